import type { Dataset, NetworkSpec, WeightMap, ActivationKind } from '@mitosis/core';

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
