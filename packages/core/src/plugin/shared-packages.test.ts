import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { CostModelRegistry } from '../contracts/cost-model.js';
import { costModelModuleSource, makeFixtureRoot, writeFixturePlugin } from '../testing/fixture-plugin.js';
import { loadPlugins } from './plugin-loader.js';
import { coreVersionsCompatible, findPackageCopy, mitosisPackageCopies, sharedPackageCopies } from './shared-packages.js';

const { root, cleanup } = makeFixtureRoot(dirname(fileURLToPath(import.meta.url)));
after(cleanup);

const coreVersion = (JSON.parse(readFileSync(join(mitosisPackageCopies()['@mitosis/core']!.directory, 'package.json'), 'utf8')) as { version: string }).version;

function writePackage(dir: string, pkg: Record<string, unknown>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', ...pkg }, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/**
 * A plugin as it is after `npm install` of packed mitosis tarballs in its own folder: node_modules holds its own
 * @mitosis/core (whose `di` re-exports its own inversify) and its own inversify, with a ContainerModule class
 * of its own, as a second real copy would have.
 */
function pluginWithOwnCopies(name: string, ownCoreVersion = coreVersion): string {
  const dir = writeFixturePlugin(root, { name, manifest: { apiVersion: 1, id: name, contributes: { costModels: [`${name}-m`] } }, source: costModelModuleSource([`${name}-m`]) });
  writePackage(join(dir, 'node_modules', 'inversify'), { name: 'inversify', version: '8.2.3', exports: { '.': './index.js' } }, {
    'index.js': 'export class ContainerModule { constructor(load) { this.id = 1; this.load = load; } }\n',
  });
  writePackage(join(dir, 'node_modules', '@mitosis', 'core'), { name: '@mitosis/core', version: ownCoreVersion, exports: { '.': './index.js', './di': './di.js' } }, {
    'index.js': "export const CostModelContribution = Symbol.for('mitosis.CostModelContribution');\n",
    'di.js': "export * from 'inversify';\n",
  });
  return dir;
}

describe('one copy of the shared packages', () => {
  it("finds each package as Node does, from the plugin's folder up", () => {
    const dir = pluginWithOwnCopies('p-find');
    assert.equal(findPackageCopy('inversify', join(dir, 'dist'))?.directory, realpathSync(join(dir, 'node_modules', 'inversify')));
    const copies = sharedPackageCopies(dir);
    const core = copies.find((c) => c.name === '@mitosis/core');
    assert.equal(core?.plugin?.directory, realpathSync(join(dir, 'node_modules', '@mitosis', 'core')));
    assert.notEqual(core?.mitosis?.directory, core?.plugin?.directory);
    // reflect-metadata: the plugin has none of its own, so it finds mitosis's up the tree.
    const reflect = copies.find((c) => c.name === 'reflect-metadata');
    assert.equal(reflect?.plugin?.directory, reflect?.mitosis?.directory);
  });

  it("loads a plugin that carries its own copies by resolving its imports to mitosis's", async () => {
    const dir = pluginWithOwnCopies('p-shared');
    const { container, plugins } = await loadPlugins([dir]);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['p-shared']);
    assert.deepEqual(container.get(CostModelRegistry).ids(), ['p-shared-m']);
  });

  it('without sharing, names both copies of inversify and of core, and the fix, instead of "must be a ContainerModule"', async () => {
    const dir = pluginWithOwnCopies('p-two-copies');
    await assert.rejects(loadPlugins([dir], undefined, { shareHostPackages: false }), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_PLUGIN_LOAD'));
      assert.match(e.message, /second copy of inversify/);
      assert.ok(e.message.includes(realpathSync(join(dir, 'node_modules', 'inversify'))), e.message);
      assert.ok(e.message.includes(mitosisPackageCopies().inversify!.directory), e.message);
      assert.match(e.message, /peerDependencies/);
      assert.match(e.message, /npm dedupe/);
      const copies = e.details['copies'] as { package: string }[];
      assert.deepEqual(copies.map((c) => c.package).sort(), ['@mitosis/core', 'inversify']);
      return true;
    });
  });

  it('names a ContainerModule bundled into the plugin (no second copy installed)', async () => {
    const source = 'class ContainerModule { constructor(load) { this.id = 7; this.load = load; } }\nexport default new ContainerModule(() => {});\n';
    const dir = writeFixturePlugin(root, { name: 'p-bundled', manifest: { apiVersion: 1, id: 'p-bundled', contributes: { costModels: ['b'] } }, source });
    await assert.rejects(loadPlugins([dir]), (e: unknown) => NasError.is(e, 'E_PLUGIN_LOAD') && /another copy of inversify/.test(e.message) && /bundled/.test(e.message));
  });

  it('refuses a plugin built against an incompatible @mitosis/core, naming both versions', async () => {
    const dir = pluginWithOwnCopies('p-old-core', '9.0.0');
    await assert.rejects(loadPlugins([dir]), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_PLUGIN_LOAD'));
      assert.match(e.message, new RegExp(`built against @mitosis/core 9\\.0\\.0 .*runs @mitosis/core ${coreVersion.replace(/\./g, '\\.')}`));
      return true;
    });
  });

  it('compares core versions as a caret range would', () => {
    assert.ok(coreVersionsCompatible('0.1.0', '0.1.7'));
    assert.ok(!coreVersionsCompatible('0.1.0', '0.2.0'));
    assert.ok(coreVersionsCompatible('1.2.0', '1.9.3'));
    assert.ok(!coreVersionsCompatible('1.2.0', '2.0.0'));
  });
});
