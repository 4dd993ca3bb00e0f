export { buildProgram, runCli } from './program.js';
export type { Io, GlobalOptions } from './io.js';
export { documentKinds, type DocumentKind } from './document-kinds.js';
