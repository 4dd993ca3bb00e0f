import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { NetworkNode, NetworkSpec, WeightMap } from '@mitosis/core';
import { activate, referenceForward } from './reference-forward.js';

function net(shape: number[], ...nodes: NetworkNode[]): NetworkSpec {
  return { format: 'mitosis-network', version: 1, nodes: [{ name: 'x', op: 'input', shape }, ...nodes], output: nodes[nodes.length - 1]!.name };
}
const t = (shape: number[], values: number[]): { shape: number[]; data: Float32Array } => ({ shape, data: Float32Array.from(values) });
const close = (a: ArrayLike<number>, b: number[]) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-9, `index ${i}: ${a[i]} vs ${b[i]}`);
};

describe('referenceForward', () => {
  const x3 = [1, 2, 3, 4, 5, 6, 7, 8, 9]; // [3, 3, 1]

  it('convolves with TF same padding and stride 2', () => {
    const spec = net([3, 3, 1], { name: 'c', op: 'conv2d', inputs: ['x'], filters: 1, kernelSize: [2, 2], strides: [2, 2], padding: 'same', useBias: true });
    // out 2×2; total pad 1 → 0 before, 1 after.
    const w: WeightMap = new Map([['c/kernel', t([2, 2, 1, 1], [1, 10, 100, 1000])], ['c/bias', t([1], [0.5])]]);
    const y = referenceForward(spec, w, Float64Array.from(x3), 1);
    close(y, [1 + 20 + 400 + 5000 + 0.5, 3 + 600 + 0.5, 7 + 80 + 0.5, 9 + 0.5]);
  });

  it('runs depthwise, pools (avg excludes padding), BN in eval mode and global average pooling', () => {
    const spec = net(
      [3, 3, 1],
      { name: 'd', op: 'depthwiseConv2d', inputs: ['x'], kernelSize: [1, 1], strides: [1, 1], padding: 'valid', useBias: false },
      { name: 'ap', op: 'avgPool', inputs: ['d'], poolSize: [2, 2], strides: [2, 2], padding: 'same' },
      { name: 'bn', op: 'batchNorm', inputs: ['ap'], epsilon: 0, momentum: 0.9 },
      { name: 'g', op: 'globalAvgPool', inputs: ['bn'] },
    );
    const w: WeightMap = new Map([
      ['d/depthwiseKernel', t([1, 1, 1, 1], [2])],
      ['bn/gamma', t([1], [3])],
      ['bn/beta', t([1], [1])],
      ['bn/movingMean', t([1], [2])],
      ['bn/movingVariance', t([1], [4])],
    ]);
    // d = 2x; avg pools: [2,4,5,6]→... compute: windows {1,2,4,5}=3, {3,6}=4.5, {7,8}=7.5, {9}=9, ×2.
    const pooled = [6, 9, 15, 18];
    const bn = pooled.map((v) => (3 * (v - 2)) / 2 + 1);
    close(referenceForward(spec, w, Float64Array.from(x3), 1), [bn.reduce((a, b) => a + b) / 4]);
  });

  it('max-pools, concatenates on the last axis, flattens and applies dense per sample', () => {
    const spec = net(
      [2, 2, 1],
      { name: 'm', op: 'maxPool', inputs: ['x'], poolSize: [2, 2], strides: [1, 1], padding: 'same' },
      { name: 'k', op: 'concat', inputs: ['x', 'm'] },
      { name: 'f', op: 'flatten', inputs: ['k'] },
      { name: 'o', op: 'dense', inputs: ['f'], units: 1, useBias: false },
    );
    const w: WeightMap = new Map([['o/kernel', t([8, 1], [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7])]]);
    // x = [1,2;3,4] → m = [4,4;4,4]; k rows (x, m) per position.
    const y = referenceForward(spec, w, Float64Array.from([1, 2, 3, 4, 0, 0, 0, 0]), 2);
    close(y, [1 + 40 + 200 + 4000 + 3e4 + 4e5 + 4e6 + 4e7, 0]);
  });

  it('implements every activation and add', () => {
    assert.equal(activate('relu6', 7), 6);
    assert.ok(Math.abs(activate('gaussian', 1) - Math.exp(-0.5)) < 1e-15);
    assert.ok(Math.abs(activate('swish', 1) - 1 / (1 + Math.exp(-1))) < 1e-15);
    assert.ok(Math.abs(activate('softplus', 0) - Math.log(2)) < 1e-15);
    const spec = net([2], { name: 'a', op: 'activation', inputs: ['x'], activation: 'tanh' }, { name: 's', op: 'add', inputs: ['a', 'x'] });
    close(referenceForward(spec, new Map(), Float64Array.from([0.5, -1]), 1), [Math.tanh(0.5) + 0.5, Math.tanh(-1) - 1]);
  });
});
