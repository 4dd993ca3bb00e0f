import { readPluginDescriptor } from '@mitosis/core';
import { dirname } from 'node:path';

/**
 * A kind of JSON document `mitosis validate` knows. `detect` looks at the parsed document (and the file
 * name) without validating; `validate` throws a NasError listing every problem with its JSON pointer.
 */
export interface DocumentKind {
  readonly id: string;
  readonly description: string;
  detect(doc: unknown, file: string): boolean;
  validate(doc: unknown, file: string): Promise<unknown>;
}

function field(doc: unknown, key: string): unknown {
  return typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[key] : undefined;
}

const pluginManifest: DocumentKind = {
  id: 'plugin-manifest',
  description: "a plugin's package.json with its \"mitosis\" manifest",
  detect: (doc, file) => file.endsWith('package.json') && field(doc, 'mitosis') !== undefined,
  validate: async (_doc, file) => readPluginDescriptor(dirname(file)).manifest,
};

/** Every document kind, most specific first. Packages add theirs here as they land. */
export const documentKinds: DocumentKind[] = [pluginManifest];
