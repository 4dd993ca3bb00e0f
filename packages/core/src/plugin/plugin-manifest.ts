import type { ContributionKind } from '../contracts/contribution.js';

/** The `"mitosis"` field of a plugin's package.json, validated before any of its code is imported. */
export interface PluginManifest {
  readonly apiVersion: 1;
  /** Kebab-case plugin id, unique among loaded plugins. */
  readonly id: string;
  /** The contribution ids the module binds, by kind. Must equal what the module actually binds. */
  readonly contributes: Partial<Record<ContributionKind, readonly string[]>>;
}

const idList = {
  type: 'array',
  items: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
  uniqueItems: true,
  minItems: 1,
} as const;

/** JSON Schema of {@link PluginManifest}. */
export const pluginManifestSchema = {
  $id: 'https://mitosis.dev/schemas/plugin-manifest.json',
  type: 'object',
  properties: {
    apiVersion: { const: 1 },
    id: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    contributes: {
      type: 'object',
      properties: { growers: idList, costModels: idList, eigenSolvers: idList },
      additionalProperties: false,
      minProperties: 1,
    },
  },
  required: ['apiVersion', 'id', 'contributes'],
  additionalProperties: false,
} as const;
