import type { NetworkSpec } from '@mitosis/core';

/**
 * Small, valid specs used by this package's tests and offered to other packages' tests. Every builder
 * returns a fresh object.
 */

/** input [4] → dense h1 (8, bias) → tanh → dense out (3 logits). */
export function tinyMlpSpec(): NetworkSpec {
  return {
    format: 'mitosis-network',
    version: 1,
    name: 'tiny-mlp',
    nodes: [
      { name: 'x', op: 'input', shape: [4] },
      { name: 'h1', op: 'dense', inputs: ['x'], units: 8, useBias: true },
      { name: 'a1', op: 'activation', inputs: ['h1'], activation: 'tanh' },
      { name: 'out', op: 'dense', inputs: ['a1'], units: 3, useBias: true },
    ],
    output: 'out',
  };
}

/**
 * A MobileNet-like net on [8, 8, 3] inputs:
 * conv1 (3×3, 8) → bn1 → relu1 → dw1 (3×3) → bnd1 → relud1 → pw1 (1×1, 8) → bnp1 → relup1;
 * add1 = relu1 + relup1 (a residual: conv1 and pw1 are tied);
 * dw2 (3×3, stride 2) → bnd2 → relud2 → pw2 (1×1, 6) → bnp2 → relup2; pool = maxPool(add1, 2×2, s2);
 * cat = concat(relup2, pool) [4, 4, 14] → flatten → fc (dense 5) → relufc → out (dense 3).
 */
export function tinyMobileNetSpec(): NetworkSpec {
  const bn = (name: string, input: string) =>
    ({ name, op: 'batchNorm', inputs: [input], epsilon: 1e-3, momentum: 0.99 }) as const;
  const relu = (name: string, input: string) => ({ name, op: 'activation', inputs: [input], activation: 'relu' }) as const;
  return {
    format: 'mitosis-network',
    version: 1,
    name: 'tiny-mobilenet',
    nodes: [
      { name: 'x', op: 'input', shape: [8, 8, 3] },
      { name: 'conv1', op: 'conv2d', inputs: ['x'], filters: 8, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
      bn('bn1', 'conv1'),
      relu('relu1', 'bn1'),
      { name: 'dw1', op: 'depthwiseConv2d', inputs: ['relu1'], kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: false },
      bn('bnd1', 'dw1'),
      relu('relud1', 'bnd1'),
      { name: 'pw1', op: 'conv2d', inputs: ['relud1'], filters: 8, kernelSize: [1, 1], strides: [1, 1], padding: 'same', useBias: false },
      bn('bnp1', 'pw1'),
      relu('relup1', 'bnp1'),
      { name: 'add1', op: 'add', inputs: ['relu1', 'relup1'] },
      { name: 'dw2', op: 'depthwiseConv2d', inputs: ['add1'], kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
      bn('bnd2', 'dw2'),
      relu('relud2', 'bnd2'),
      { name: 'pw2', op: 'conv2d', inputs: ['relud2'], filters: 6, kernelSize: [1, 1], strides: [1, 1], padding: 'valid', useBias: true },
      bn('bnp2', 'pw2'),
      relu('relup2', 'bnp2'),
      { name: 'pool', op: 'maxPool', inputs: ['add1'], poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
      { name: 'cat', op: 'concat', inputs: ['relup2', 'pool'] },
      { name: 'flat', op: 'flatten', inputs: ['cat'] },
      { name: 'fc', op: 'dense', inputs: ['flat'], units: 5, useBias: true },
      relu('relufc', 'fc'),
      { name: 'drop', op: 'dropout', inputs: ['relufc'], rate: 0.1 },
      { name: 'out', op: 'dense', inputs: ['drop'], units: 3, useBias: true },
    ],
    output: 'out',
  };
}
