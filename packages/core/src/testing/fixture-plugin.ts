import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes throw-away plugin packages for tests under `parent` (which must be inside the repository so that
 * `@mitosis/core/di` resolves from node_modules). Returns the directory and a cleanup function.
 */
export function makeFixtureRoot(parent: string): { root: string; cleanup: () => void } {
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(join(parent, '.fixtures-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface FixturePlugin {
  readonly name: string;
  readonly manifest: unknown;
  /** Body of index.js; defaults to a module binding one cost model per declared id. */
  readonly source?: string;
}

/** A plugin module that binds a constant CostModelContribution for each id. */
export function costModelModuleSource(ids: readonly string[]): string {
  const binds = ids
    .map(
      (id) =>
        `  bind(CostModelContribution).toConstantValue({ id: ${JSON.stringify(id)}, description: 'fixture', unit: 'macs', requiresProfile: false, optionsSchema: { type: 'object', properties: { scale: { type: 'number', default: 1 } }, additionalProperties: false }, create: (o) => ({ id: ${JSON.stringify(id)}, unit: 'macs', estimate: () => ({ model: ${JSON.stringify(id)}, unit: 'macs', total: o.scale, layers: [] }) }) });`,
    )
    .join('\n');
  return `import { ContainerModule } from '@mitosis/core/di';\nimport { CostModelContribution } from '@mitosis/core';\nexport default new ContainerModule(({ bind }) => {\n${binds}\n});\n`;
}

export function writeFixturePlugin(root: string, plugin: FixturePlugin): string {
  const dir = join(root, plugin.name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: plugin.name, version: '1.0.0', type: 'module', main: 'index.js', mitosis: plugin.manifest }, null, 2),
  );
  const ids = ((plugin.manifest as { contributes?: { costModels?: string[] } } | undefined)?.contributes?.costModels ?? []) as string[];
  writeFileSync(join(dir, 'index.js'), plugin.source ?? costModelModuleSource(ids));
  return dir;
}
