import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GrowerRegistry, NasError, loadPlugins, type EigenResult, type MethodContext } from '@mitosis/core';

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Fixed eigenpairs, as the loop would pass them: one block of three neurons in 2-D. */
const fc1: EigenResult = {
  block: 'fc1', neurons: 3, dim: 2,
  lambdaMin: Float64Array.from([-0.5, 0.2, -1.5]), lambdaMax: Float64Array.from([1, 1, 1]),
  vMin: Float64Array.from([1, 0, 0, 1, 0.6, 0.8]), vMax: new Float64Array(6),
  residualMin: new Float64Array(3), residualMax: new Float64Array(3),
};

/** The loop's placeholder for a layer without a splitting matrix: λ_min = +∞, no vectors. */
const proj: EigenResult = {
  block: 'proj', neurons: 2, dim: 0,
  lambdaMin: new Float64Array(2).fill(Infinity), lambdaMax: new Float64Array(2).fill(-Infinity),
  vMin: new Float64Array(0), vMax: new Float64Array(0),
  residualMin: new Float64Array(2), residualMax: new Float64Array(2),
};

/** Only the fields the grower reads; a real context comes from the growth loop. */
/** `splitting: null` leaves the scores out. */
function context(marginalCost: number | null, splitting: EigenResult[] | null = [fc1]): MethodContext {
  const layer = (node: string, width: number, splittable: boolean) => ({ node, width, cap: null, group: 'all', marginalCost, splittable });
  const layers = splitting?.map((r) => layer(r.block, r.neurons, r.dim > 0)) ?? [layer('fc1', 3, true)];
  return { round: 1, layers, scores: splitting === null ? {} : { splitting } } as unknown as MethodContext;
}

describe('example plugin: top-k grower', () => {
  it('loads through the plugin loader and splits the most negative neurons first', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const grower = container.get(GrowerRegistry).create('top-k', { k: 2 });
    assert.deepEqual(grower.needs, [{ kind: 'splitting', solver: 'dense' }]);
    const plan = await grower.plan(context(10));
    assert.equal(plan.action, 'grow');
    assert.equal(plan.method, 'top-k');
    assert.deepEqual(plan.entries.map((e) => e.neuron), [2, 0]);
    assert.deepEqual(plan.entries[0]?.offspring.map((o) => o.direction), [[0.6, 0.8], [-0.6, -0.8]]);
    assert.deepEqual(plan.entries.map((e) => e.cost), [10, 10]);
    assert.ok(Math.abs((plan.predictedDeltaLoss ?? 0) - (0.01 ** 2 / 2) * -2) < 1e-12);
    assert.deepEqual(plan.details, { solver: 'dense', negative: 2 });
  });

  it('skips neurons whose λ_min is not negative, and layers that are not splittable', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const grower = container.get(GrowerRegistry).create('top-k', { k: 3, solver: 'lanczos' });
    assert.deepEqual(grower.needs, [{ kind: 'splitting', solver: 'lanczos' }]);
    const plan = await grower.plan(context(null, [proj, fc1]));
    assert.deepEqual(plan.entries.map((e) => [e.node, e.neuron]), [['fc1', 2], ['fc1', 0]]);
  });

  it('fails clearly when the loop passed no splitting scores', async () => {
    const { container } = await loadPlugins([pluginDir]);
    const grower = container.get(GrowerRegistry).create('top-k', {});
    await assert.rejects(grower.plan(context(null, null)), (e) => NasError.is(e, 'E_RUN_FAILED') && /top-k/.test(e.message));
  });
});
