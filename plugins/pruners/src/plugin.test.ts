import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { PrunerRegistry, contributionsOf, importPlugin, loadPlugins, readPluginDescriptor } from '@mitosis/core';
import { fakeMethodContext } from './testing/fake-method-context.js';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('pruners plugin', () => {
  it('binds exactly the pruners its manifest declares', async () => {
    const plugin = await importPlugin(readPluginDescriptor(pluginDir));
    assert.equal(plugin.manifest.id, 'pruners');
    assert.deepEqual(contributionsOf(plugin.module)['pruners'], ['prune-l1', 'prune-slimming', 'prune-taylor']);
  });

  it('loads through the plugin loader; every pruner validates its defaults and plans a fake round', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const pruners = container.get(PrunerRegistry);
    assert.deepEqual(pruners.ids(), ['prune-l1', 'prune-slimming', 'prune-taylor']);
    const context = fakeMethodContext([
      { node: 'conv1', weightNorm: [0.2, 0.1], bnScale: [0.5, 0.4], taylor: [1e-3, 2e-3] },
      { node: 'conv2', weightNorm: [0.3, 0.6, 0.9], bnScale: [0.1, 0.9, 0.3], taylor: [3e-3, 1e-4, 5e-3] },
    ]);
    for (const contribution of pruners.all()) {
      assert.ok(contribution.description.length > 10);
      const pruner = pruners.create(contribution.id);
      assert.equal(pruner.id, contribution.id);
      const plan = await pruner.plan(context);
      assert.equal(plan.method, contribution.id);
      // Every channel ranked once.
      const keys = plan.entries.map((e) => `${e.node}/${e.channel}`);
      assert.equal(new Set(keys).size, 5, contribution.id);
      for (const e of plan.entries) assert.ok(Number.isFinite(e.score));
    }
  });
});
