import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SeededRandom, type Dataset, type EigenResult, type MethodLayer, type NetworkSpec } from '@mitosis/core';
import { NetworkModel, useBackend } from '@mitosis/engine';
import { computeScores, type EigenConvergenceStats } from '@mitosis/growth';
import { initWeights } from '@mitosis/ir';
import { createSplittingOperator } from '@mitosis/splitting';
import { workspaceServices } from './growth-helpers.js';

/*
 * Issue 12 item 3: on a conv layer with near-random spectra (random data and weights: tiny gaps below λ_min),
 * the rayleigh solver either converges (λ within 2%, |cos| ≥ 0.98 of dense) or flags the neuron; and the run
 * loop never hands a grower a flagged pair (lanczos retry, then +∞).
 */

const cin = 16;
const neurons = 12;
const spatial = 6;

const spec: NetworkSpec = {
  format: 'mitosis-network',
  version: 1,
  name: 'near-random-conv',
  nodes: [
    { name: 'x', op: 'input', shape: [spatial, spatial, cin] },
    { name: 'conv', op: 'conv2d', inputs: ['x'], filters: neurons, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
    { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-3, momentum: 0.9 },
    { name: 'act', op: 'activation', inputs: ['bn'], activation: 'swish' },
    { name: 'gap', op: 'globalAvgPool', inputs: ['act'] },
    { name: 'out', op: 'dense', inputs: ['gap'], units: 4, useBias: true },
  ],
  output: 'out',
};

function randomData(count: number): Dataset {
  const rng = new SeededRandom(5);
  return {
    name: 'random',
    task: 'classification',
    inputShape: [spatial, spatial, cin],
    targetSize: 4,
    count,
    x: new Float32Array(count * spatial * spatial * cin).map(() => rng.normal()),
    y: new Float32Array(count).map(() => rng.int(4)),
  };
}

/** Per neuron: does (λ_min, v_min) match dense within 2% and |cos| ≥ 0.98 (and the same for the max pair)? */
function accurate(r: EigenResult, d: EigenResult, j: number): { min: boolean; max: boolean } {
  const dim = d.dim;
  const check = (l: number, ld: number, v: Float64Array, vd: Float64Array): boolean => {
    let c = 0;
    for (let i = 0; i < dim; i++) c += v[j * dim + i]! * vd[j * dim + i]!;
    return Math.abs(l - ld) <= 0.02 * Math.abs(ld) && Math.abs(c) >= 0.98;
  };
  return { min: check(r.lambdaMin[j]!, d.lambdaMin[j]!, r.vMin, d.vMin), max: check(r.lambdaMax[j]!, d.lambdaMax[j]!, r.vMax, d.vMax) };
}

describe('eigen solver convergence flags on a near-random conv layer', () => {
  before(async () => {
    await useBackend('cpu');
  });

  it('rayleigh (defaults): every pair is accurate or flagged; the loop retries flagged ones with lanczos and never passes one on', async () => {
    const services = await workspaceServices();
    const weights = initWeights(spec, 3);
    const data = randomData(48);
    const model = new NetworkModel(spec, weights);
    let dense: EigenResult;
    let rayleigh: EigenResult;
    try {
      const op = createSplittingOperator(model, data, { loss: 'ce', batchSize: 16 });
      [dense] = (await services.eigenSolvers.create('dense').solve(op)) as [EigenResult];
      [rayleigh] = (await services.eigenSolvers.create('rayleigh').solve(op)) as [EigenResult];
      op.dispose();
    } finally {
      model.dispose();
    }
    assert.ok(dense.convergedMin!.every((c) => c === 1) && dense.convergedMax!.every((c) => c === 1), 'dense is exact');
    let flagged = 0;
    for (let j = 0; j < neurons; j++) {
      const ok = accurate(rayleigh, dense, j);
      if (rayleigh.convergedMin![j] === 1) assert.ok(ok.min, `neuron ${j}: λ_min marked converged but wrong`);
      if (rayleigh.convergedMax![j] === 1) assert.ok(ok.max, `neuron ${j}: λ_max marked converged but wrong`);
      if (rayleigh.convergedMin![j] === 0 || rayleigh.convergedMax![j] === 0) flagged++;
    }
    assert.ok(flagged > 0, 'near-random spectra leave rayleigh flagged on some neurons');

    const layer: MethodLayer = {
      node: 'conv',
      producers: ['conv'],
      channelGroup: 1,
      width: neurons,
      cap: null,
      min: 1,
      group: 'all',
      marginalCost: 1,
      pruneCost: 1,
      splittable: true,
    };
    let stats: EigenConvergenceStats | undefined;
    const scores = await computeScores([{ kind: 'splitting', solver: 'rayleigh' }], {
      spec,
      weights,
      layers: [layer],
      data,
      loss: 'ce',
      batchSize: 16,
      solvers: services.eigenSolvers,
      onConvergence: (s) => (stats = s),
    });
    assert.ok(stats !== undefined);
    assert.equal(stats.notConverged, flagged);
    assert.equal(stats.neurons, neurons);
    assert.equal(stats.recovered + stats.skipped, stats.notConverged);
    const [r] = scores.splitting!;
    for (let j = 0; j < neurons; j++) {
      const ok = accurate(r!, dense, j);
      // Every λ a grower sees is either right or +∞ / −∞ (never selected).
      assert.ok(ok.min || r!.lambdaMin[j] === Number.POSITIVE_INFINITY, `neuron ${j}: λ_min ${r!.lambdaMin[j]} vs ${dense.lambdaMin[j]}`);
      assert.ok(ok.max || r!.lambdaMax[j] === Number.NEGATIVE_INFINITY, `neuron ${j}: λ_max ${r!.lambdaMax[j]} vs ${dense.lambdaMax[j]}`);
    }
  });
});
