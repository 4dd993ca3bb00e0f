import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { CostModelRegistry } from '../contracts/cost-model.js';
import { makeFixtureRoot, writeFixturePlugin } from '../testing/fixture-plugin.js';
import { discoverPluginDirectories, loadPlugins, readPluginDescriptor } from './plugin-loader.js';

const { root, cleanup } = makeFixtureRoot(dirname(fileURLToPath(import.meta.url)));
after(cleanup);

const good = (id: string, models: string[]) => ({ apiVersion: 1, id, contributes: { costModels: models } });

describe('readPluginDescriptor', () => {
  it('accepts a valid manifest without importing code', () => {
    const dir = writeFixturePlugin(root, { name: 'p-good', manifest: good('p-good', ['m1']), source: 'throw new Error("must not be imported")' });
    assert.equal(readPluginDescriptor(dir).manifest.id, 'p-good');
  });

  it('lists every manifest problem with its pointer and names the plugin', () => {
    const dir = writeFixturePlugin(root, { name: 'p-bad', manifest: { apiVersion: 2, id: 'Bad Id', contributes: { growers: [], widgets: ['x'] } } });
    assert.throws(() => readPluginDescriptor(dir), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_PLUGIN_MANIFEST'));
      assert.equal(e.details['plugin'], 'p-bad');
      const pointers = (e.details['problems'] as { pointer: string }[]).map((p) => p.pointer);
      for (const p of ['/mitosis/apiVersion', '/mitosis/id', '/mitosis/contributes/widgets', '/mitosis/contributes/growers']) assert.ok(pointers.includes(p), `${p} in ${pointers.join(',')}`);
      assert.match(e.message, /p-bad/);
      return true;
    });
  });

  it('rejects a package without a manifest', () => {
    const dir = join(root, 'not-a-plugin');
    mkdirSync(dir, { recursive: true });
    writeFixturePlugin(root, { name: 'not-a-plugin', manifest: undefined });
    assert.throws(() => readPluginDescriptor(dir), (e: unknown) => NasError.is(e, 'E_PLUGIN_MANIFEST') && /no "mitosis" manifest/.test(e.message));
  });
});

describe('loadPlugins', () => {
  it('loads plugins into a container whose registries see their contributions', async () => {
    const a = writeFixturePlugin(root, { name: 'p-a', manifest: good('p-a', ['alpha']) });
    const b = writeFixturePlugin(root, { name: 'p-b', manifest: good('p-b', ['beta', 'gamma']) });
    const { container, plugins } = await loadPlugins([a, b]);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['p-a', 'p-b']);
    assert.deepEqual(container.get(CostModelRegistry).ids(), ['alpha', 'beta', 'gamma']);
  });

  it('rejects a module that binds something its manifest does not declare', async () => {
    const dir = writeFixturePlugin(root, { name: 'p-mismatch', manifest: good('p-mismatch', ['declared']), source: (await import('../testing/fixture-plugin.js')).costModelModuleSource(['declared', 'sneaky']) });
    await assert.rejects(loadPlugins([dir]), (e: unknown) => NasError.is(e, 'E_PLUGIN_MISMATCH') && /sneaky/.test(e.message));
  });

  it('rejects a default export that is not a ContainerModule', async () => {
    const dir = writeFixturePlugin(root, { name: 'p-notmodule', manifest: good('p-notmodule', ['x']), source: 'export default { bind() {} };\n' });
    await assert.rejects(loadPlugins([dir]), (e: unknown) => NasError.is(e, 'E_PLUGIN_LOAD') && /ContainerModule/.test(e.message));
  });

  it('rejects two plugins with the same id', async () => {
    const a = writeFixturePlugin(root, { name: 'p-dup1', manifest: good('p-dup', ['d1']) });
    const b = writeFixturePlugin(root, { name: 'p-dup2', manifest: good('p-dup', ['d2']) });
    await assert.rejects(loadPlugins([a, b]), (e: unknown) => NasError.is(e, 'E_PLUGIN_CONFLICT') && e.details['id'] === 'p-dup');
  });

  it('rejects two plugins contributing the same cost model id when the registry is resolved', async () => {
    const a = writeFixturePlugin(root, { name: 'p-c1', manifest: good('p-c1', ['same']) });
    const b = writeFixturePlugin(root, { name: 'p-c2', manifest: good('p-c2', ['same']) });
    const { container } = await loadPlugins([a, b]);
    assert.throws(() => container.get(CostModelRegistry), (e: unknown) => NasError.is(e, 'E_PLUGIN_CONFLICT') && e.details['id'] === 'same');
  });
});

describe('discoverPluginDirectories', () => {
  it('finds @mitosis/plugin-* and mitosis-plugin-* packages in node_modules up the tree', () => {
    const project = join(root, 'project');
    const nm = join(project, 'node_modules');
    mkdirSync(join(nm, '@mitosis'), { recursive: true });
    const target = writeFixturePlugin(root, { name: 'p-linked', manifest: good('p-linked', ['l']) });
    symlinkSync(target, join(nm, '@mitosis', 'plugin-linked'));
    symlinkSync(target, join(nm, 'mitosis-plugin-other'));
    mkdirSync(join(nm, 'unrelated'), { recursive: true });
    const found = discoverPluginDirectories(join(project, 'src'));
    assert.ok(found.includes(target));
    assert.ok(!found.some((d) => d.includes('unrelated')));
  });
});
