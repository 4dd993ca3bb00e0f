import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GrowerRegistry, loadPlugins, type Grower } from '@mitosis/core';
import { fakeContext } from '@mitosis/grower-kit/testing';

/** The plugin's folder: tests load it exactly as mitosis does, from its package.json. */
const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function grower(options: object = {}): Promise<Grower> {
  const { container } = await loadPlugins([pluginDir]);
  return container.get(GrowerRegistry).create('{{id}}', options);
}

describe('{{id}} grower', () => {
  it('loads through the plugin loader with its defaults', async () => {
    const { plugins } = await loadPlugins([pluginDir]);
    assert.deepEqual(plugins.map((p) => p.manifest.id), ['{{id}}']);
    assert.deepEqual((await grower()).needs, [{ kind: 'splitting', solver: 'dense' }]);
  });

  it('splits the most negative λ_min first while the budget allows', async () => {
    const context = fakeContext(
      [
        { node: 'fc1', lambdaMin: [-0.5, 0.2, -1.5], marginalCost: 4 },
        { node: 'fc2', lambdaMin: [-1.0, -0.1], marginalCost: 10 },
      ],
      { budget: 15 },
    );
    const plan = await (await grower({ maxSplits: 10 })).plan(context);
    // By λ_min: fc1#2 (cost 4), fc2#0 (10): 14 spent; fc1#0 and fc2#1 would exceed 15.
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['fc1', 2], ['fc2', 0]]);
    assert.deepEqual(plan.details, { solver: 'dense', negative: 4, overBudget: 2, cost: 14, budget: 15 });
  });

  it('splits along ±ε·v_min with halved outgoing weights and predicts ΔL = ε²/2·λ_min', async () => {
    const context = fakeContext([{ node: 'fc1', lambdaMin: [-2, 1], vMin: [[0.6, 0.8], [1, 0]] }]);
    const plan = await (await grower({ epsilon: 0.1 })).plan(context);
    assert.equal(plan.entries.length, 1);
    const entry = plan.entries[0]!;
    assert.deepEqual(entry.offspring.map((o) => o.weight), [0.5, 0.5]);
    assert.deepEqual(entry.offspring.map((o) => o.direction), [[0.6, 0.8], [-0.6, -0.8]]);
    assert.ok(Math.abs((plan.predictedDeltaLoss ?? 0) - (0.1 ** 2 / 2) * -2) < 1e-12);
  });

  it('stops at the caps and at maxSplits, and skips layers that are not splittable', async () => {
    const context = fakeContext([
      { node: 'a', lambdaMin: [-3, -2, -1], cap: 4 },
      { node: 'b', lambdaMin: [-5, -4], splittable: false },
      { node: 'c', lambdaMin: [-0.5, -0.4, -0.3] },
    ]);
    const plan = await (await grower({ maxSplits: 3 })).plan(context);
    // Layer a has room for one more neuron (cap 4); b has no splitting matrix.
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['a', 0], ['c', 0], ['c', 1]]);
  });
});
