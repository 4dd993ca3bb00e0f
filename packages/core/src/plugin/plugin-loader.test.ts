import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { CostModelRegistry } from '../contracts/cost-model.js';
import { costModelModuleSource, makeFixtureRoot, writeFixturePlugin } from '../testing/fixture-plugin.js';
import { discoverPluginDirectories, importPlugin, loadPlugins, projectNodeModules, readPluginDescriptor, type SkippedPlugin } from './plugin-loader.js';

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

  it("looks only in the project's own node_modules, not in an ancestor's", () => {
    // outer/node_modules holds a plugin; outer/inner is a project with its own node_modules.
    const outer = join(root, 'outer');
    const stray = writeFixturePlugin(root, { name: 'p-stray', manifest: good('p-stray', ['s']) });
    mkdirSync(join(outer, 'node_modules'), { recursive: true });
    symlinkSync(stray, join(outer, 'node_modules', 'mitosis-plugin-stray'));
    const own = writeFixturePlugin(root, { name: 'p-own', manifest: good('p-own', ['o']) });
    mkdirSync(join(outer, 'inner', 'node_modules', '@mitosis'), { recursive: true });
    symlinkSync(own, join(outer, 'inner', 'node_modules', '@mitosis', 'plugin-own'));
    mkdirSync(join(outer, 'inner', 'src'), { recursive: true });
    assert.equal(projectNodeModules(join(outer, 'inner', 'src')), join(outer, 'inner', 'node_modules'));
    assert.deepEqual(discoverPluginDirectories(join(outer, 'inner', 'src')), [realpathSync(own)]);
    // An installed CLI (inside a node_modules folder) uses the node_modules that holds it.
    const installed = join(outer, 'inner', 'node_modules', '@mitosis', 'cli', 'dist');
    mkdirSync(installed, { recursive: true });
    assert.equal(projectNodeModules(installed), join(outer, 'inner', 'node_modules'));
    assert.deepEqual(discoverPluginDirectories(installed), [realpathSync(own)]);
    // The outer project alone still finds its own.
    assert.deepEqual(discoverPluginDirectories(outer), [realpathSync(stray)]);
  });
});

/** Rewrites fields of a fixture plugin's package.json. */
function patchPackage(dir: string, fields: Record<string, unknown>): void {
  const file = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete pkg[k];
    else pkg[k] = v;
  }
  writeFileSync(file, JSON.stringify(pkg));
}

/** A module outside every plugin folder that counts its imports in a global. */
function writeOutsideModule(name: string): string {
  const dir = join(root, 'outside');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.js`);
  writeFileSync(file, `globalThis.__mitosisOutsideImports = (globalThis.__mitosisOutsideImports ?? 0) + 1;\n${costModelModuleSource(['evil'])}`);
  return file;
}

const outsideImports = (): number => ((globalThis as Record<string, unknown>)['__mitosisOutsideImports'] as number | undefined) ?? 0;

describe('plugin entry modules', () => {
  const cases: { label: string; setup: (dir: string) => void; pointer: string; message: RegExp }[] = [
    {
      label: 'a main with ".." leading out of the folder',
      setup: (dir) => {
        writeOutsideModule('evil');
        patchPackage(dir, { main: '../outside/evil.js' });
      },
      pointer: '/main',
      message: /main "\.\.\/outside\/evil\.js" contains "\.\."/,
    },
    {
      label: 'an absolute conditional exports entry',
      setup: (dir) => patchPackage(dir, { exports: { '.': { types: './index.d.ts', import: writeOutsideModule('abs') } } }),
      pointer: '/exports/./import',
      message: /is an absolute path/,
    },
    {
      label: 'an entry that is a symbolic link to a file outside',
      setup: (dir) => {
        symlinkSync(writeOutsideModule('linked'), join(dir, 'linked.js'));
        patchPackage(dir, { main: 'linked.js' });
      },
      pointer: '/main',
      message: /resolves \(through a symbolic link\) outside the folder of plugin/,
    },
    {
      label: 'an exports string naming a directory',
      setup: (dir) => {
        mkdirSync(join(dir, 'lib'));
        patchPackage(dir, { exports: './lib' });
      },
      pointer: '/exports',
      message: /is not a regular file/,
    },
    {
      label: 'a missing entry',
      setup: (dir) => patchPackage(dir, { main: 'dist/index.js' }),
      pointer: '/main',
      message: /does not exist \(is the plugin built\?\)/,
    },
  ];
  for (const [i, c] of cases.entries()) {
    it(`refuses ${c.label} with E_PLUGIN_LOAD naming package.json and the field, importing nothing`, async () => {
      const dir = writeFixturePlugin(root, { name: `p-entry-${i}`, manifest: good(`p-entry-${i}`, ['evil']) });
      c.setup(dir);
      const before = outsideImports();
      await assert.rejects(loadPlugins([dir]), (e: unknown) => {
        assert.ok(NasError.is(e, 'E_PLUGIN_LOAD'), String(e));
        assert.equal(e.details['file'], join(dir, 'package.json'));
        assert.equal(e.details['pointer'], c.pointer);
        assert.equal(e.details['plugin'], `p-entry-${i}`);
        assert.match(e.message, c.message);
        return true;
      });
      assert.equal(outsideImports(), before);
    });
  }

  it('follows Node: a conditional exports entry inside the folder wins over main', async () => {
    const dir = writeFixturePlugin(root, { name: 'p-cond', manifest: good('p-cond', ['cond']) });
    patchPackage(dir, { main: '../outside/never.js', exports: { '.': [{ types: './index.d.ts', require: './missing.cjs', import: './index.js' }] } });
    const plugin = await importPlugin(readPluginDescriptor(dir));
    assert.deepEqual(plugin.manifest.contributes.costModels, ['cond']);
  });
});

describe('loadPlugins with discovered plugins', () => {
  it('skips and reports each broken discovered plugin and loads the others', async () => {
    const ok = writeFixturePlugin(root, { name: 'd-ok', manifest: good('d-ok', ['d-ok-model']) });
    const named = writeFixturePlugin(root, { name: 'd-named', manifest: good('d-named', ['d-named-model']) });
    const badManifest = writeFixturePlugin(root, { name: 'd-bad-manifest', manifest: { apiVersion: 9 } });
    const escaping = writeFixturePlugin(root, { name: 'd-escaping', manifest: good('d-escaping', ['x']) });
    writeOutsideModule('evil');
    patchPackage(escaping, { main: '../outside/evil.js' });
    const throwing = writeFixturePlugin(root, { name: 'd-throwing', manifest: good('d-throwing', ['y']), source: 'throw new Error("boom at import");\n' });
    const binding = writeFixturePlugin(root, {
      name: 'd-binding',
      manifest: good('d-binding', ['z']),
      source: "import { ContainerModule } from '@mitosis/core/di';\nexport default new ContainerModule(() => { throw new RangeError('bad bind'); });\n",
    });
    const discovered = [ok, badManifest, escaping, throwing, binding];
    const reported: SkippedPlugin[] = [];
    const before = outsideImports();
    const { container, plugins, skipped } = await loadPlugins([...discovered, named], undefined, { discovered, onSkip: (s) => reported.push(s) });
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['d-ok', 'd-named']);
    assert.deepEqual(container.get(CostModelRegistry).ids(), ['d-named-model', 'd-ok-model']);
    assert.deepEqual(reported, skipped);
    assert.deepEqual(
      skipped.map((s) => [s.directory, s.error.code]),
      [
        [badManifest, 'E_PLUGIN_MANIFEST'],
        [escaping, 'E_PLUGIN_LOAD'],
        [throwing, 'E_PLUGIN_LOAD'],
        [binding, 'E_PLUGIN_LOAD'],
      ],
    );
    assert.equal(skipped[1]?.error.details['pointer'], '/main');
    assert.match(skipped[2]?.error.message ?? '', /boom at import/);
    assert.match(skipped[3]?.error.message ?? '', /bad bind/);
    assert.equal(outsideImports(), before);
  });

  it('keeps a broken plugin the user named fatal', async () => {
    const ok = writeFixturePlugin(root, { name: 'n-ok', manifest: good('n-ok', ['n-ok-model']) });
    const broken = writeFixturePlugin(root, { name: 'n-broken', manifest: good('n-broken', ['n']) });
    patchPackage(broken, { main: '/etc/hostname' });
    await assert.rejects(
      loadPlugins([ok, broken], undefined, { discovered: [ok] }),
      (e: unknown) => NasError.is(e, 'E_PLUGIN_LOAD') && e.details['pointer'] === '/main' && e.details['plugin'] === 'n-broken',
    );
  });

  it('lets a named plugin win an id conflict with a discovered one, and keeps two named ones fatal', async () => {
    const installed = writeFixturePlugin(root, { name: 'c-installed', manifest: good('c-same', ['c-old']) });
    const dev = writeFixturePlugin(root, { name: 'c-dev', manifest: good('c-same', ['c-new']) });
    const { container, skipped } = await loadPlugins([installed, dev], undefined, { discovered: [installed] });
    assert.deepEqual(container.get(CostModelRegistry).ids(), ['c-new']);
    assert.equal(skipped.length, 1);
    assert.ok(NasError.is(skipped[0]?.error, 'E_PLUGIN_CONFLICT'));
    assert.deepEqual(skipped[0]?.error.details['plugins'], ['c-dev', 'c-installed']);
    await assert.rejects(loadPlugins([installed, dev]), (e: unknown) => NasError.is(e, 'E_PLUGIN_CONFLICT') && e.details['id'] === 'c-same');
  });

  it('returns no skipped plugins in the strict default', async () => {
    const a = writeFixturePlugin(root, { name: 's-a', manifest: good('s-a', ['s-a-model']) });
    assert.deepEqual((await loadPlugins([a])).skipped, []);
  });
});
