import { validateAgainst } from '@mitosis/core';
import { parseSearchSpace, type SearchSpace } from '../space/search-space.js';

/**
 * A run configuration: what `mitosis grow` was asked to do. Every run writes its own as `run.json` (checked
 * by `mitosis validate` and compared on `--resume`). `searchSpace` embeds the space so a run directory is
 * self-contained; `space` names a shipped space or a file.
 */
export interface RunConfig {
  readonly $schema?: string;
  readonly format: 'mitosis-run';
  readonly version: 1 | 2;
  readonly space: string;
  /** Method id and kind (version 2); `grower` in version 1. */
  readonly method?: string;
  readonly kind?: 'grower' | 'pruner' | 'resizer' | 'shrinker';
  readonly methodOptions?: Readonly<Record<string, unknown>>;
  readonly grower?: string;
  readonly growerOptions?: Readonly<Record<string, unknown>>;
  /** Training epochs every method of the space runs (seed training + one fine-tune per round). */
  readonly epochs?: number;
  readonly profile?: string | null;
  /** Final-model cost target, `{value, unit}` (or the text form `"5ms"` on input). */
  readonly budget?: { readonly value: number; readonly unit: 'macs' | 'params' | 'ms' | 'mJ' } | string | null;
  readonly rounds?: number;
  readonly seed?: number;
  readonly searchSpace?: SearchSpace;
}

export const runConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mitosis.dev/schemas/run-config.json',
  title: 'mitosis run configuration',
  type: 'object',
  properties: {
    $schema: { type: 'string' },
    format: { const: 'mitosis-run' },
    version: { enum: [1, 2] },
    space: { type: 'string', minLength: 1 },
    method: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    kind: { enum: ['grower', 'pruner', 'resizer', 'shrinker'] },
    methodOptions: { type: 'object' },
    epochs: { type: 'integer', minimum: 0 },
    grower: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    growerOptions: { type: 'object' },
    profile: { type: ['string', 'null'] },
    budget: {
      oneOf: [
        { type: 'null' },
        { type: 'string', minLength: 2 },
        {
          type: 'object',
          properties: { value: { type: 'number', exclusiveMinimum: 0 }, unit: { enum: ['macs', 'params', 'ms', 'mJ'] } },
          required: ['value', 'unit'],
          additionalProperties: false,
        },
      ],
    },
    rounds: { type: 'integer', minimum: 0 },
    seed: { type: 'integer', minimum: 0 },
    searchSpace: { type: 'object' },
  },
  required: ['format', 'version', 'space'],
  additionalProperties: false,
} as const;

/** Validates a run configuration (and its embedded search space, pointers under `/searchSpace`). */
export function parseRunConfig(doc: unknown, source: string): RunConfig {
  const config = validateAgainst<RunConfig>(runConfigSchema, doc, { source, what: 'run configuration' });
  if (config.searchSpace !== undefined) {
    return { ...config, searchSpace: parseSearchSpace(config.searchSpace, `${source}#/searchSpace`) };
  }
  return config;
}
