import type { ContributionKind } from '../contracts/contribution.js';
import { EXTENSION_POINTS, type ExtensionPoint } from '../contracts/extension-points.js';

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

/** JSON Schema of {@link PluginManifest} for the given extension points (one `contributes` key each). */
export function pluginManifestSchemaFor(points: readonly ExtensionPoint[]): object {
  return {
    $id: 'https://mitosis.dev/schemas/plugin-manifest.json',
    type: 'object',
    properties: {
      apiVersion: { const: 1 },
      id: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
      contributes: {
        type: 'object',
        properties: Object.fromEntries(points.map((p) => [p.kind, idList])),
        additionalProperties: false,
        minProperties: 1,
      },
    },
    required: ['apiVersion', 'id', 'contributes'],
    additionalProperties: false,
  };
}

/** JSON Schema of {@link PluginManifest} for mitosis's extension points. */
export const pluginManifestSchema = pluginManifestSchemaFor(EXTENSION_POINTS);
