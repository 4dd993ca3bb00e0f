import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ContainerModule } from '@mitosis/core/di';
import {
  EigenSolverContribution,
  GrowerRegistry,
  loadPlugins,
  type EigenResult,
  type GrowthContext,
} from '@mitosis/core';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A fake solver with fixed eigenpairs: one block of three neurons in 2-D. */
const fakeSolver = new ContainerModule(({ bind }) => {
  bind(EigenSolverContribution).toConstantValue({
    id: 'dense',
    description: 'fixed eigenpairs for the test',
    optionsSchema: { type: 'object' },
    create: () => ({
      id: 'dense',
      solve: async (): Promise<EigenResult[]> => [
        {
          block: 'fc1', neurons: 3, dim: 2,
          lambdaMin: Float64Array.from([-0.5, 0.2, -1.5]), lambdaMax: Float64Array.from([1, 1, 1]),
          vMin: Float64Array.from([1, 0, 0, 1, 0.6, 0.8]), vMax: new Float64Array(6),
          residualMin: new Float64Array(3), residualMax: new Float64Array(3),
        },
      ],
    }),
  });
});

describe('example plugin: top-k grower', () => {
  it('loads through the plugin loader and splits the most negative neurons first', async () => {
    const { container } = await loadPlugins([pluginDir]);
    container.load(fakeSolver);
    const grower = container.get(GrowerRegistry).create('top-k', { k: 2 });
    const context = {
      round: 1,
      layers: [{ node: 'fc1', width: 3, cap: null, group: 'all', marginalCost: 10 }],
    } as unknown as GrowthContext;
    const plan = await grower.plan(context);
    assert.deepEqual(plan.entries.map((e) => e.neuron), [2, 0]);
    assert.deepEqual(plan.entries[0]?.offspring.map((o) => o.direction), [[0.6, 0.8], [-0.6, -0.8]]);
    assert.ok(Math.abs((plan.predictedDeltaLoss ?? 0) - (0.01 ** 2 / 2) * -2) < 1e-12);
  });

  it('skips neurons whose λ_min is not negative', async () => {
    const { container } = await loadPlugins([pluginDir]);
    container.load(fakeSolver);
    const plan = await container.get(GrowerRegistry).create('top-k', { k: 3 }).plan({
      round: 1,
      layers: [{ node: 'fc1', width: 3, cap: null, group: 'all', marginalCost: null }],
    } as unknown as GrowthContext);
    assert.deepEqual(plan.entries.map((e) => e.neuron), [2, 0]);
  });
});
