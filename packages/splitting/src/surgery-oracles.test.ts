import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset, GrowthPlan, NetworkSpec, NeuronGrowth, Offspring, WeightMap } from '@mitosis/core';
import { NetworkModel } from '@mitosis/engine';
import { applyGrowthPlan, initWeights, referenceForward } from '@mitosis/ir';
import { symmetricExtremeEigen } from '@mitosis/linalg';
import { createSplittingOperator } from './splitting-operator.js';
import { useCpuBackend } from './test-backend.js';
import { oneNeuronNet, regression, w } from './test-networks.js';

/*
 * Second-order predictions against measured loss changes (algorithms.md §1, §4; checks E, G and the surgery
 * acceptance). Weights live in Float32Array, so θ ± εv would be rounded and the rounding's mean shift would swamp
 * an ε² effect. We therefore use dyadic numbers: weights on a 2⁻¹⁰ grid, directions on a 2⁻¹² grid and
 * ε = 2⁻¹⁰ ≈ 1e-3, so that every offspring θ + εv is exact in float32. Losses are computed in float64 by ir's
 * referenceForward; S comes from the TF.js operator (float32).
 */

before(useCpuBackend);

const EPS = 2 ** -10;
const dyadic = (x: number, bits: number): number => Math.round(x * 2 ** bits) / 2 ** bits;

function roundWeights(weights: WeightMap): void {
  for (const [key, t] of weights) {
    if (key.endsWith('/movingVariance') || key.endsWith('/gamma')) continue;
    t.data.forEach((v, i) => (t.data[i] = dyadic(v, 10)));
  }
}

/** Mean over every element of ½(f − y)², in float64 (the engine's MSE convention). */
function loss(spec: NetworkSpec, weights: WeightMap, data: Dataset): number {
  const out = referenceForward(spec, weights, Float64Array.from(data.x), data.count);
  let acc = 0;
  for (let i = 0; i < out.length; i++) acc += 0.5 * (out[i]! - data.y[i]!) ** 2;
  return acc / out.length;
}

function quad(s: Float64Array, v: ArrayLike<number>, dim: number, neuron = 0): number {
  let acc = 0;
  const o = neuron * dim * dim;
  for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) acc += v[r]! * s[o + r * dim + c]! * v[c]!;
  return acc;
}

function plan(entries: NeuronGrowth[], epsilon = EPS): GrowthPlan {
  return { action: 'grow', method: 'test', round: 0, epsilon, entries, predictedDeltaLoss: null };
}

function entry(node: string, neuron: number, offspring: Offspring[]): NeuronGrowth {
  return { node, neuron, offspring, scheme: 'test', score: 0, predictedDeltaLoss: null, cost: null };
}

function symmetric(v: number[]): Offspring[] {
  return [
    { weight: 0.5, direction: v },
    { weight: 0.5, direction: v.map((x) => -x) },
  ];
}

async function splittingMatrices(spec: NetworkSpec, weights: WeightMap, data: Dataset): Promise<Map<string, Float64Array>> {
  const model = new NetworkModel(spec, weights);
  try {
    const op = createSplittingOperator(model, data, { loss: 'mse', batchSize: 3 });
    const out = new Map<string, Float64Array>();
    for (let k = 0; k < op.blocks.length; k++) out.set(op.blocks[k]!.name, await op.matrices(k));
    return out;
  } finally {
    model.dispose();
  }
}

/** The unit extreme eigenvector of neuron j rounded to the 2⁻¹² grid. */
function extremeDirection(s: Float64Array, dim: number, j: number, which: 'min' | 'max'): number[] {
  const e = symmetricExtremeEigen(s, dim, j * dim * dim);
  return Array.from(which === 'min' ? e.vMin : e.vMax, (x) => dyadic(x, 12));
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('check E: two neurons in different layers split at once: function preserved, ΔL/pred → 1', async () => {
  const spec: NetworkSpec = {
    format: 'mitosis-network',
    version: 1,
    nodes: [
      { name: 'x', op: 'input', shape: [1] },
      { name: 'd1', op: 'dense', inputs: ['x'], units: 2, useBias: true },
      { name: 't1', op: 'activation', inputs: ['d1'], activation: 'tanh' },
      { name: 'd2', op: 'dense', inputs: ['t1'], units: 2, useBias: true },
      { name: 't2', op: 'activation', inputs: ['d2'], activation: 'tanh' },
      { name: 'out', op: 'dense', inputs: ['t2'], units: 1, useBias: true },
    ],
    output: 'out',
  };
  const weights: WeightMap = new Map([
    ['d1/kernel', w([1, 2], [1.25, -0.75])],
    ['d1/bias', w([2], [0.25, 0.5])],
    ['d2/kernel', w([2, 2], [0.875, -1.125, 0.625, 1.5])],
    ['d2/bias', w([2], [-0.25, 0.125])],
    ['out/kernel', w([2, 1], [1.5, -1.25])],
    ['out/bias', w([1], [0.0625])],
  ]);
  const data = regression('e', [1], [-1.5, -0.75, -0.25, 0.5, 1, 1.75], [0.5, -0.25, 0.75, 0.125, -0.5, 0.25]);
  const s = await splittingMatrices(spec, weights, data);
  const v1 = extremeDirection(s.get('d1')!, 2, 0, 'min');
  const v2 = extremeDirection(s.get('d2')!, 3, 1, 'min');
  const pred = (EPS * EPS) / 2 * (quad(s.get('d1')!, v1, 2, 0) + quad(s.get('d2')!, v2, 3, 1));
  const entries = [entry('d1', 0, symmetric(v1)), entry('d2', 1, symmetric(v2))];

  const at0 = applyGrowthPlan(spec, weights, plan(entries, 0));
  const y0 = referenceForward(spec, weights, Float64Array.from(data.x), data.count);
  const y0split = referenceForward(at0.spec, at0.weights, Float64Array.from(data.x), data.count);
  assert.ok(maxAbsDiff(y0, y0split) <= 1e-14, `function at ε = 0 changed by ${maxAbsDiff(y0, y0split)}`);

  const split = applyGrowthPlan(spec, weights, plan(entries));
  const delta = loss(split.spec, split.weights, data) - loss(spec, weights, data);
  assert.ok(Math.abs(delta / pred - 1) < 1e-3, `ΔL ${delta} / pred ${pred} = ${delta / pred}`);
  assert.ok(pred < 0, 'the chosen directions decrease the loss');
});

test('check G: signed splits on a splitting-stable tanh neuron (S ≻ 0) and the amplified positive split', async () => {
  const c = 3;
  const xs = [0.5, 1, 1.5];
  const theta = [1, 0.25];
  const f = xs.map((x) => Math.tanh(theta[0]! * x + theta[1]!));
  for (const shift of [0.5, -0.5]) {
    // shift +0.5: residual −0.5 with σ'' < 0 → S ≻ 0 (S2D-stable); −0.5 → S ≺ 0.
    const { spec, weights } = oneNeuronNet('tanh', 1, [theta[0]!], theta[1]!);
    const data = regression('g', [1], xs, f.map((v) => dyadic(v + shift, 10)));
    const s = (await splittingMatrices(spec, weights, data)).get('h')!;
    const eig = symmetricExtremeEigen(s, 2);
    const l0 = loss(spec, weights, data);
    const measure = async (offspring: Offspring[]): Promise<number> => {
      const after = applyGrowthPlan(spec, weights, plan([entry('h', 0, offspring)]));
      return loss(after.spec, after.weights, data) - l0;
    };
    const vMin = extremeDirection(s, 2, 0, 'min');
    const vMax = extremeDirection(s, 2, 0, 'max');
    const half = (EPS * EPS) / 2;
    if (shift > 0) {
      assert.ok(eig.values[0]! > 0, `S is positive definite (λ_min = ${eig.values[0]})`);
      const s2d = await measure(symmetric(vMin));
      const predS2d = half * quad(s, vMin, 2);
      assert.ok(s2d > 0 && Math.abs(s2d / predS2d - 1) < 1e-3, `S2D: ΔL ${s2d} vs ${predS2d}`);
      const negPair = await measure([
        { weight: (c + 1) / 2 },
        { weight: -(c - 1) / 4, direction: vMax },
        { weight: -(c - 1) / 4, direction: vMax.map((x) => -x) },
      ]);
      const predNeg = half * (-(c - 1) / 2) * quad(s, vMax, 2);
      assert.ok(negPair < 0 && Math.abs(negPair / predNeg - 1) < 1e-3, `negative pair: ΔL ${negPair} vs ${predNeg}`);
      assert.ok(Math.abs(predNeg / (half * (-(c - 1) / 2) * eig.values[1]!) - 1) < 1e-3, 'pred ≈ ε²/2·(c−1)/2·(−λ_max)');
    } else {
      assert.ok(eig.values[0]! < 0, `λ_min = ${eig.values[0]} < 0`);
      const amplified = await measure([
        { weight: -(c - 1) / 2 },
        { weight: (c + 1) / 4, direction: vMin },
        { weight: (c + 1) / 4, direction: vMin.map((x) => -x) },
      ]);
      const predAmp = half * ((c + 1) / 2) * quad(s, vMin, 2);
      assert.ok(amplified < 0 && Math.abs(amplified / predAmp - 1) < 1e-3, `amplified: ΔL ${amplified} vs ${predAmp}`);
      assert.ok(Math.abs(predAmp / (half * ((c + 1) / 2) * eig.values[0]!) - 1) < 1e-3, 'pred ≈ ε²/2·(c+1)/2·λ_min');
    }
  }
});

/**
 * A random network with dense, conv2d (stride 2), depthwise, BN, a residual add tying two producers, avgPool,
 * concat and flatten. Smooth activations throughout; between a split neuron's activation and its linear
 * consumers there are only linear channel-wise ops (the splitting matrix treats the activation right after the
 * producer as the neuron's only nonlinearity, algorithms.md §1).
 */
function acceptanceSpec(): NetworkSpec {
  const bn = (name: string, input: string) => ({ name, op: 'batchNorm', inputs: [input], epsilon: 1e-3, momentum: 0.9 }) as const;
  return {
    format: 'mitosis-network',
    version: 1,
    name: 'acceptance',
    nodes: [
      { name: 'x', op: 'input', shape: [6, 6, 2] },
      { name: 'c1', op: 'conv2d', inputs: ['x'], filters: 5, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
      bn('b1', 'c1'),
      { name: 'a1', op: 'activation', inputs: ['b1'], activation: 'tanh' },
      { name: 'dw', op: 'depthwiseConv2d', inputs: ['a1'], kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: true },
      bn('bd', 'dw'),
      { name: 'c2', op: 'conv2d', inputs: ['bd'], filters: 5, kernelSize: [1, 1], strides: [1, 1], padding: 'valid', useBias: true },
      bn('b2', 'c2'),
      { name: 'a2', op: 'activation', inputs: ['b2'], activation: 'swish' },
      { name: 'res', op: 'add', inputs: ['a1', 'a2'] },
      { name: 'c3', op: 'conv2d', inputs: ['res'], filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
      { name: 'a3', op: 'activation', inputs: ['c3'], activation: 'gaussian' },
      { name: 'pool', op: 'avgPool', inputs: ['res'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
      { name: 'cat', op: 'concat', inputs: ['a3', 'pool'] },
      { name: 'flat', op: 'flatten', inputs: ['cat'] },
      { name: 'd1', op: 'dense', inputs: ['flat'], units: 4, useBias: true },
      { name: 'a4', op: 'activation', inputs: ['d1'], activation: 'sigmoid' },
      { name: 'out', op: 'dense', inputs: ['a4'], units: 2, useBias: true },
    ],
    output: 'out',
  };
}

test('surgery acceptance: several neurons of dense/conv layers (depthwise, BN, residual, concat) split at once, ΔL/pred within 1e-2', async () => {
  const spec = acceptanceSpec();
  for (const seed of [1, 2]) {
    const weights = initWeights(spec, seed);
    let k = 0;
    for (const [key, t] of weights) {
      k++;
      if (key.endsWith('/movingVariance')) t.data.forEach((_, i) => (t.data[i] = 0.6 + 0.1 * ((i + k) % 4)));
      if (key.endsWith('/movingMean')) t.data.forEach((_, i) => (t.data[i] = 0.1 * (((i + k) % 3) - 1)));
      if (key.endsWith('/gamma')) t.data.forEach((_, i) => (t.data[i] = 0.9 + 0.1 * ((i + k) % 3)));
      if (key.endsWith('/kernel') || key.endsWith('/depthwiseKernel')) t.data.forEach((v, i) => (t.data[i] = 1.6 * v));
    }
    roundWeights(weights);
    const count = 8;
    let state = seed * 7919;
    const rnd = (): number => ((state = (state * 1664525 + 1013904223) % 4294967296) / 4294967296) * 2 - 1;
    const x = Array.from({ length: count * 72 }, () => dyadic(rnd(), 8));
    const y = Array.from({ length: count * 2 }, () => dyadic(rnd(), 8));
    const data: Dataset = { name: 'acc', task: 'regression', inputShape: [6, 6, 2], targetSize: 2, count, x: Float32Array.from(x), y: Float32Array.from(y) };
    const s = await splittingMatrices(spec, weights, data);
    assert.deepEqual([...s.keys()], ['c1', 'c2', 'c3', 'd1']);
    const dims = new Map([['c1', 18], ['c2', 6], ['c3', 46], ['d1', 82]]);
    const picks: [string, number][] = [['c1', 1], ['c2', 3], ['c3', 2], ['d1', 0], ['d1', 3]];
    let pred = 0;
    const entries = picks.map(([node, j]) => {
      const dim = dims.get(node)!;
      const v = extremeDirection(s.get(node)!, dim, j, 'min');
      pred += (EPS * EPS) / 2 * quad(s.get(node)!, v, dim, j);
      return entry(node, j, symmetric(v));
    });
    const at0 = applyGrowthPlan(spec, weights, plan(entries, 0));
    const inputs = Float64Array.from(data.x);
    const diff0 = maxAbsDiff(referenceForward(spec, weights, inputs, count), referenceForward(at0.spec, at0.weights, inputs, count));
    assert.ok(diff0 <= 1e-12, `function at ε = 0 changed by ${diff0}`);
    const split = applyGrowthPlan(spec, weights, plan(entries));
    const delta = loss(split.spec, split.weights, data) - loss(spec, weights, data);
    assert.ok(Math.abs(delta / pred - 1) < 1e-2, `seed ${seed}: ΔL ${delta} / pred ${pred} = ${delta / pred}`);
  }
});
