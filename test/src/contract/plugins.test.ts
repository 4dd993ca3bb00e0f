import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  EXTENSION_POINTS,
  GrowerRegistry,
  CostModelRegistry,
  EigenSolverRegistry,
  PrunerRegistry,
  ResizerRegistry,
  contributionsOf,
  importPlugin,
  loadPlugins,
  readPluginDescriptor,
} from '@mitosis/core';
import { runCli, type Io } from '@mitosis/cli';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pluginDirs = readdirSync(join(repo, 'plugins')).map((d) => join(repo, 'plugins', d));

describe('every workspace plugin (contract)', () => {
  for (const dir of pluginDirs) {
    it(`${dir.slice(repo.length + 1)}: manifest validates and equals what its module binds`, async () => {
      const plugin = await importPlugin(readPluginDescriptor(dir));
      const bound = contributionsOf(plugin.module);
      for (const [kind, ids] of Object.entries(plugin.manifest.contributes)) {
        assert.deepEqual(bound[kind as keyof typeof bound], [...(ids ?? [])].sort());
      }
    });
  }

  it('all load together, with unique ids, and every contribution\'s defaults validate against its schema', async () => {
    const { container } = await loadPlugins(pluginDirs);
    const registries = EXTENSION_POINTS.map((p) => container.get(p.registry));
    assert.ok(registries[0] instanceof GrowerRegistry && registries[3] instanceof CostModelRegistry && registries[4] instanceof EigenSolverRegistry);
    let count = 0;
    for (const registry of registries) {
      for (const c of registry.all()) {
        assert.match(c.id, /^[a-z][a-z0-9-]*$/);
        assert.ok(c.description.length > 10, `${c.id} needs a description`);
        const needsProfile = (c as { requiresProfile?: boolean }).requiresProfile === true;
        const defaults = registry.options(c.id, needsProfile ? { profile: 'note10-cpu' } : {});
        assert.equal(typeof defaults, 'object');
        count += 1;
      }
    }
    assert.ok(count >= 16, `expected the shipped contributions, found ${count}`);
    for (const id of ['s2d', 'signed', 'energy-aware', 'random-split', 'random-neuron']) assert.ok(registries[0]?.has(id), id);
    for (const id of ['prune-l1', 'prune-slimming', 'prune-taylor']) assert.ok(container.get(PrunerRegistry).has(id), id);
    assert.ok(container.get(ResizerRegistry).has('width-multiplier'));
    for (const id of ['macs', 'params', 'latency', 'energy']) assert.ok(registries[3]?.has(id), id);
    for (const id of ['dense', 'rayleigh', 'lanczos']) assert.ok(registries[4]?.has(id), id);
  });

  it('mitosis plugins --json lists every workspace plugin and its contributions', async () => {
    let stdout = '';
    const io: Io = { stdout: (s) => void (stdout += s), stderr: () => undefined, interactive: false };
    const code = await runCli(['plugins', '--json'], io);
    assert.equal(code, 0);
    const doc = JSON.parse(stdout) as { plugins: { id: string; contributes: Record<string, { id: string }[]> }[] };
    const ids = doc.plugins.map((p) => p.id).sort();
    const expected = pluginDirs.map((d) => readPluginDescriptor(d).manifest.id).sort();
    for (const id of expected) assert.ok(ids.includes(id), `${id} missing from ${ids.join(', ')}`);
    const growers = doc.plugins.flatMap((p) => (p.contributes['growers'] ?? []).map((c) => c.id));
    assert.ok(growers.includes('energy-aware'));
  });
});
