import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { relError, seededValues } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

type Pad = 'valid' | 'same';

/** max-pool output and its input gradient (weighted by fixed `r`) on `backend`. */
async function poolGrad(backend: string, shape: number[], values: Float32Array, k: number, s: number, pad: Pad): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor(values, shape);
    const f = (a: tf.Tensor): tf.Tensor => tf.maxPool(a as tf.Tensor4D, k, s, pad);
    const y = f(x);
    const r = tf.tensor(seededValues(y.size, 9), y.shape);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x);
    return [y.dataSync() as Float32Array, dx.dataSync() as Float32Array];
  });
}

describe('MaxPoolGrad on wasm', () => {
  before(async () => {
    await initWasmBackend();
  });

    // Overlapping windows add gradients in another order than the cpu backend: equal up to rounding.
  const cases: [number[], number, number, Pad, string][] = [
    [[3, 8, 8, 4], 2, 2, 'valid', 'SIMD 2×2/2'],
    [[2, 7, 9, 8], 2, 2, 'valid', 'SIMD, uncovered last row and column'],
    [[2, 9, 6, 12], 3, 3, 'valid', 'SIMD 3×3/3'],
    [[2, 8, 8, 16], 2, 2, 'same', 'SIMD, same padding without pad'],
    [[2, 8, 6, 22], 2, 2, 'valid', 'SIMD, 22 channels (the last group overlaps)'],
    [[2, 6, 8, 5], 2, 2, 'valid', 'SIMD, 5 channels'],
    [[2, 8, 8, 4], 3, 2, 'same', 'JavaScript: overlapping windows, padding'],
    [[2, 8, 8, 3], 2, 2, 'valid', 'JavaScript: 3 channels'],
    [[1, 4, 4, 1], 2, 2, 'valid', 'JavaScript: 1 channel'],
    [[2, 7, 7, 4], 3, 2, 'valid', 'JavaScript: overlapping windows'],
  ];
  for (const [shape, k, s, pad, label] of cases) {
    it(`matches the cpu backend exactly: ${label}`, async () => {
      const values = seededValues(shape.reduce((a, b) => a * b, 1), 5);
      const [wy, wdx] = await poolGrad('wasm', shape, values, k, s, pad);
      const [cy, cdx] = await poolGrad('cpu', shape, values, k, s, pad);
      assert.equal(relError(wy as Float32Array, cy as Float32Array), 0);
      assert.ok(relError(wdx as Float32Array, cdx as Float32Array) <= (k > s ? 1e-6 : 0));
      await tf.setBackend('wasm');
    });
  }

  it('passes on the gradient of windows whose values are all negative (wasm 4.22’s own kernel drops it)', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.tensor4d([-3, -1, -2, -4, -0.5, -7, -6, -8], [1, 2, 4, 1]);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x);
      assert.deepEqual(Array.from(dx.dataSync()), [0, 0, 1, 0, 1, 0, 0, 0]);
      const x4 = tf.tile(tf.reshape(x, [1, 2, 4, 1]), [1, 1, 1, 4]);
      const dx4 = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x4);
      assert.deepEqual(Array.from(dx4.dataSync()), [0, 0, 1, 0, 1, 0, 0, 0].flatMap((v) => [v, v, v, v]));
    });
  });

  it('gives a tied window’s gradient to its first maximum only', async () => {
    const shape = [2, 6, 6, 8];
    // Values on a coarse grid: most windows hold ties.
    const values = seededValues(shape.reduce((a, b) => a * b, 1), 6).map((v) => Math.round(v * 2));
    const [, wdx] = await poolGrad('wasm', shape, values, 2, 2, 'valid');
    const [, cdx] = await poolGrad('cpu', shape, values, 2, 2, 'valid');
    assert.deepEqual(Array.from(wdx as Float32Array), Array.from(cdx as Float32Array));
    // Every window passes on exactly one (non-zero) gradient value.
    const nonZero = (wdx as Float32Array).filter((v) => v !== 0).length;
    assert.equal(nonZero, 2 * 3 * 3 * 8);
    await tf.setBackend('wasm');
  });
});
