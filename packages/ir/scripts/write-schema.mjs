// Regenerates schemas/network-spec.schema.json from the TypeScript schema object (run after `tsc -b packages/ir`).
import { writeFileSync } from 'node:fs';
import { networkSpecSchema } from '../dist/index.js';

const file = new URL('../schemas/network-spec.schema.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(networkSpecSchema, null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
