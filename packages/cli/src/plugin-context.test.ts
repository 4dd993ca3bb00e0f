import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { CostModelRegistry, NasError } from '@mitosis/core';
import { makeFixtureRoot, writeFixturePlugin } from '@mitosis/core/testing';
import type { Io } from './io.js';
import { loadPluginSources, pluginSources, type PluginSources } from './plugin-context.js';

const { root, cleanup } = makeFixtureRoot(dirname(fileURLToPath(import.meta.url)));
after(cleanup);

const manifest = (id: string, models: string[]) => ({ apiVersion: 1, id, contributes: { costModels: models } });

function capture(): { io: Io; stderr: () => string } {
  let err = '';
  return { io: { stdout: () => undefined, stderr: (s) => void (err += s), interactive: false }, stderr: () => err };
}

/** A project whose node_modules holds a good installed plugin and one whose main leads out of its folder. */
function project(): { from: string; good: string; escaping: string } {
  const dir = join(root, 'project');
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, '@mitosis'), { recursive: true });
  const good = writeFixturePlugin(root, { name: 'i-good', manifest: manifest('i-good', ['i-good-model']) });
  const escaping = writeFixturePlugin(root, { name: 'i-escaping', manifest: manifest('i-escaping', ['i-evil']) });
  const pkgFile = join(escaping, 'package.json');
  writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')), main: '../i-good/index.js' }));
  symlinkSync(good, join(nm, '@mitosis', 'plugin-good'));
  symlinkSync(escaping, join(nm, 'mitosis-plugin-escaping'));
  mkdirSync(join(dir, 'src'), { recursive: true });
  return { from: join(dir, 'src'), good: realpathSync(good), escaping: realpathSync(escaping) };
}

describe('plugin loading in the CLI', () => {
  const { from, good, escaping } = project();
  // Keep to this test's fixtures (discovery reads the project's own node_modules only).
  const sources = (...args: Parameters<typeof pluginSources>): PluginSources => {
    const s = pluginSources(...args);
    return { discovered: s.discovered.filter((d) => d.startsWith(root)), named: s.named };
  };

  it('separates discovered plugins from named ones; a plugin both discovered and named counts as named', () => {
    const extra = writeFixturePlugin(root, { name: 'n-extra', manifest: manifest('n-extra', ['n-extra-model']) });
    assert.deepEqual(sources({}, {}, from), { discovered: [escaping, good].sort(), named: [] });
    assert.deepEqual(sources({ plugin: [extra] }, { MITOSIS_PLUGINS: join(root, 'project', 'node_modules', '@mitosis', 'plugin-good') }, from), {
      discovered: [escaping],
      named: [good, realpathSync(extra)],
    });
    assert.deepEqual(sources({ discover: false, plugin: [extra] }, {}, from), { discovered: [], named: [realpathSync(extra)] });
  });

  it('warns about a broken discovered plugin on stderr, skips it and loads the others', async () => {
    const { io, stderr } = capture();
    const { container, plugins, skipped } = await loadPluginSources(sources({}, {}, from), io);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['i-good']);
    assert.deepEqual(container.get(CostModelRegistry).ids(), ['i-good-model']);
    assert.deepEqual(skipped.map((s) => [s.directory, s.error.code, s.error.details['pointer']]), [[escaping, 'E_PLUGIN_LOAD', '/main']]);
    assert.match(stderr(), /^mitosis: warning: skipping the installed plugin in .*i-escaping: E_PLUGIN_LOAD: .*main "\.\.\/i-good\/index\.js" contains "\.\."/);
    assert.equal(stderr().trim().split('\n').length, 1);
  });

  it('keeps a broken plugin named with --plugin or MITOSIS_PLUGINS an error', async () => {
    for (const options of [{ plugin: [escaping] }, {}]) {
      const env = 'plugin' in options ? {} : { MITOSIS_PLUGINS: escaping };
      const { io, stderr } = capture();
      await assert.rejects(
        loadPluginSources(sources(options, env, from), io),
        (e: unknown) => NasError.is(e, 'E_PLUGIN_LOAD') && e.details['pointer'] === '/main' && e.details['plugin'] === 'i-escaping',
      );
      assert.equal(stderr(), '');
    }
  });
});
