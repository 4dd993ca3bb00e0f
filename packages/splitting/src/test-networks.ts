import type { Dataset, NetworkNode, NetworkSpec, WeightMap, ActivationKind } from '@mitosis/core';
import { initWeights } from '@mitosis/ir';

/**
 * Tiny networks and data sets of the closed-form checks (algorithms.md §9), shared by this package's tests.
 */

/** A weight tensor from plain numbers. */
export function w(shape: number[], values: number[]): { shape: number[]; data: Float32Array } {
  return { shape, data: Float32Array.from(values) };
}

/** A regression data set of `inputShape` samples with one target each. */
export function regression(name: string, inputShape: number[], x: number[], y: number[]): Dataset {
  return { name, task: 'regression', inputShape, targetSize: 1, count: y.length, x: Float32Array.from(x), y: Float32Array.from(y) };
}

/** f(x) = a·σ(θᵀ[x; 1]): input [d] → dense h (1, bias) → σ → dense out (1, no bias). */
export function oneNeuronNet(
  activation: ActivationKind,
  a: number,
  kernel: number[],
  bias: number,
): { spec: NetworkSpec; weights: WeightMap } {
  const spec: NetworkSpec = {
    format: 'mitosis-network',
    version: 1,
    name: 'one-neuron',
    nodes: [
      { name: 'x', op: 'input', shape: [kernel.length] },
      { name: 'h', op: 'dense', inputs: ['x'], units: 1, useBias: true },
      { name: 'act', op: 'activation', inputs: ['h'], activation },
      { name: 'out', op: 'dense', inputs: ['act'], units: 1, useBias: false },
    ],
    output: 'out',
  };
  const weights: WeightMap = new Map([
    ['h/kernel', w([kernel.length, 1], kernel)],
    ['h/bias', w([1], [bias])],
    ['out/kernel', w([1, 1], [a])],
  ]);
  return { spec, weights };
}

/** Check D: conv (1×2 kernel, valid) on [1, 4, 1] → eval BN → tanh → flatten → dense u (no bias). */
export function checkDNet(): { spec: NetworkSpec; weights: WeightMap; data: Dataset } {
  const spec: NetworkSpec = {
    format: 'mitosis-network',
    version: 1,
    name: 'check-d',
    nodes: [
      { name: 'x', op: 'input', shape: [1, 4, 1] },
      { name: 'conv', op: 'conv2d', inputs: ['x'], filters: 1, kernelSize: [1, 2], strides: [1, 1], padding: 'valid', useBias: false },
      { name: 'bn', op: 'batchNorm', inputs: ['conv'], epsilon: 1e-5, momentum: 0.99 },
      { name: 'act', op: 'activation', inputs: ['bn'], activation: 'tanh' },
      { name: 'flat', op: 'flatten', inputs: ['act'] },
      { name: 'out', op: 'dense', inputs: ['flat'], units: 1, useBias: false },
    ],
    output: 'out',
  };
  const weights: WeightMap = new Map([
    ['conv/kernel', w([1, 2, 1, 1], [0.8, -0.5])],
    ['bn/gamma', w([1], [1.3])],
    ['bn/beta', w([1], [0.1])],
    ['bn/movingMean', w([1], [0.2])],
    ['bn/movingVariance', w([1], [0.5])],
    ['out/kernel', w([3, 1], [0.7, -0.4, 1.1])],
  ]);
  const data = regression('check-d', [1, 4, 1], [0.5, -1, 2, 0.3, 1.5, 0.2, -0.7, -1.2], [0.4, -0.6]);
  return { spec, weights, data };
}

const bn = (name: string, input: string): NetworkNode => ({ name, op: 'batchNorm', inputs: [input], epsilon: 1e-3, momentum: 0.9 });
const act = (name: string, input: string, activation: ActivationKind): NetworkNode => ({ name, op: 'activation', inputs: [input], activation });
const conv = (name: string, input: string, filters: number, k: number, stride = 1, useBias = false): NetworkNode => ({
  name,
  op: 'conv2d',
  inputs: [input],
  filters,
  kernelSize: [k, k],
  strides: [stride, stride],
  padding: 'same',
  useBias,
});
const dw = (name: string, input: string, stride = 1): NetworkNode => ({
  name,
  op: 'depthwiseConv2d',
  inputs: [input],
  kernelSize: [3, 3],
  strides: [stride, stride],
  padding: 'same',
  useBias: false,
});

/**
 * conv 3×3 → BN → a → [dw 3×3 → BN → σ → pw 1×1 → BN → σ] ×2 (the second dw with stride 2) → GAP → dense 2, σ = a
 * then `b` in the second block. Default shape: a [6, 6, 2] input and widths 3, 4 (with a bias), 3.
 */
export function mobileNetV1(
  a: ActivationKind,
  { b = a, input = [6, 6, 2], widths = [3, 4, 3], name = `mbv1-${a}` }: { b?: ActivationKind; input?: number[]; widths?: [number, number, number]; name?: string } = {},
): NetworkSpec {
  const [w0, w1, w2] = widths;
  return {
    format: 'mitosis-network',
    version: 1,
    name,
    nodes: [
      { name: 'x', op: 'input', shape: input },
      conv('c0', 'x', w0, 3),
      bn('c0_bn', 'c0'),
      act('c0_act', 'c0_bn', a),
      dw('dw1', 'c0_act'),
      bn('dw1_bn', 'dw1'),
      act('dw1_act', 'dw1_bn', a),
      conv('pw1', 'dw1_act', w1, 1, 1, true),
      bn('pw1_bn', 'pw1'),
      act('pw1_act', 'pw1_bn', b),
      dw('dw2', 'pw1_act', 2),
      bn('dw2_bn', 'dw2'),
      act('dw2_act', 'dw2_bn', b),
      conv('pw2', 'dw2_act', w2, 1),
      bn('pw2_bn', 'pw2'),
      act('pw2_act', 'pw2_bn', a),
      { name: 'gap', op: 'globalAvgPool', inputs: ['pw2_act'] },
      { name: 'out', op: 'dense', inputs: ['gap'], units: 2, useBias: true },
    ],
    output: 'out',
  };
}

/** stem conv → BN → σ → expand 1×1 → BN → σ → dw → BN → σ → project 1×1 → BN → add(stem) → GAP → dense. */
export function invertedResidual(a: ActivationKind): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: `mbv2-${a}`,
    nodes: [
      { name: 'x', op: 'input', shape: [6, 6, 2] },
      conv('stem', 'x', 3, 3),
      bn('stem_bn', 'stem'),
      act('stem_act', 'stem_bn', a),
      conv('expand', 'stem_act', 5, 1),
      bn('expand_bn', 'expand'),
      act('expand_act', 'expand_bn', a),
      dw('dw', 'expand_act'),
      bn('dw_bn', 'dw'),
      act('dw_act', 'dw_bn', a),
      conv('project', 'dw_act', 3, 1),
      bn('project_bn', 'project'),
      { name: 'res', op: 'add', inputs: ['stem_act', 'project_bn'] },
      { name: 'gap', op: 'globalAvgPool', inputs: ['res'] },
      { name: 'out', op: 'dense', inputs: ['gap'], units: 2, useBias: true },
    ],
    output: 'out',
  };
}

/**
 * Branches and chains of several: c0 → BN → tanh, then (dw → BN → tanh → dw → BN → swish) + (dw → BN →
 * sigmoid) → add → tanh → avgPool → flatten → BN → tanh → dense.
 */
export function branching(): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: 'branching',
    nodes: [
      { name: 'x', op: 'input', shape: [6, 6, 2] },
      conv('c0', 'x', 3, 3, 1, true),
      bn('c0_bn', 'c0'),
      act('c0_act', 'c0_bn', 'tanh'),
      dw('a1', 'c0_act'),
      bn('a1_bn', 'a1'),
      act('a1_act', 'a1_bn', 'tanh'),
      dw('a2', 'a1_act', 2),
      bn('a2_bn', 'a2'),
      act('a2_act', 'a2_bn', 'swish'),
      dw('b1', 'c0_act', 2),
      bn('b1_bn', 'b1'),
      act('b1_act', 'b1_bn', 'sigmoid'),
      { name: 'sum', op: 'add', inputs: ['a2_act', 'b1_act'] },
      act('sum_act', 'sum', 'tanh'),
      // 'valid': TF.js's AvgPool gradient divides partial 'same' windows by the full window size (its forward
      // divides by the in-bounds count), which would make G itself wrong.
      { name: 'pool', op: 'avgPool', inputs: ['sum_act'], poolSize: [2, 2], strides: [1, 1], padding: 'valid' },
      { name: 'flat', op: 'flatten', inputs: ['pool'] },
      bn('flat_bn', 'flat'),
      act('flat_act', 'flat_bn', 'tanh'),
      { name: 'out', op: 'dense', inputs: ['flat_act'], units: 2, useBias: true },
    ],
    output: 'out',
  };
}

/**
 * {@link mobileNetV1} over 3 input channels (the first conv's dim 27, not a multiple of 4; pw1's 9 with its bias)
 * with 8 channels everywhere, so that wasm's fused kernels and product kernels take every layer (issue 18).
 */
export function wideMobileNet(a: ActivationKind, b: ActivationKind): NetworkSpec {
  return mobileNetV1(a, { b, input: [8, 8, 3], widths: [8, 8, 8], name: `wide-${a}-${b}` });
}

/**
 * Random initial weights (scaled ×1.5 so that the activations curve), random BN statistics and affine
 * parameters, and `count` random regression samples of `inputShape` (default 6 of [6, 6, 2]) with 2 targets
 * (issue 12 oracles).
 */
export function chainSetup(spec: NetworkSpec, seed: number, inputShape: readonly number[] = [6, 6, 2], count = 6): { weights: WeightMap; data: Dataset } {
  const weights = initWeights(spec, seed);
  let state = seed * 7919 + 17;
  const rnd = (): number => ((state = (state * 1664525 + 1013904223) % 4294967296) / 4294967296) * 2 - 1;
  for (const [key, t] of weights) {
    if (key.endsWith('/movingVariance')) t.data.forEach((_, i) => (t.data[i] = 0.5 + 0.5 * Math.abs(rnd())));
    else if (key.endsWith('/movingMean')) t.data.forEach((_, i) => (t.data[i] = 0.2 * rnd()));
    else if (key.endsWith('/gamma')) t.data.forEach((_, i) => (t.data[i] = 1 + 0.4 * rnd()));
    else if (key.endsWith('/beta')) t.data.forEach((_, i) => (t.data[i] = 0.3 * rnd()));
    else t.data.forEach((v, i) => (t.data[i] = 1.5 * v));
  }
  const size = inputShape.reduce((p, d) => p * d, 1);
  const x = Float32Array.from({ length: count * size }, rnd);
  const y = Float32Array.from({ length: count * 2 }, rnd);
  return { weights, data: { name: 'oracle', task: 'regression', inputShape: [...inputShape], targetSize: 2, count, x, y } };
}

