import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { seededValues } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

async function on(backend: string, f: () => tf.Tensor): Promise<{ shape: number[]; values: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const t = f();
    return { shape: t.shape, values: Array.from(t.dataSync()) };
  });
}

function parts(shapes: number[][], dtype: 'float32' | 'int32'): tf.Tensor[] {
  return shapes.map((s, i) => {
    const v = seededValues(s.reduce((a, b) => a * b, 1), i + 1);
    return tf.tensor(dtype === 'int32' ? v.map((e) => Math.round(e * 50)) : v, s, dtype);
  });
}

describe('Concat and Pack on wasm', () => {
  before(async () => {
    await initWasmBackend();
  });

  const concats: [number[][], number, 'float32' | 'int32'][] = [
    [[[2, 3, 4], [2, 3, 5]], 2, 'float32'],
    [[[2, 3, 4], [2, 1, 4], [2, 2, 4]], 1, 'float32'],
    [[[2, 3, 4], [1, 3, 4]], 0, 'float32'],
    [[[4, 5, 5, 3], [4, 5, 5, 3], [4, 5, 5, 1]], -1, 'float32'],
    [[[3, 20], [3, 40]], 1, 'int32'],
    [[[3, 0], [3, 2]], 1, 'float32'],
  ];
  for (const [shapes, axis, dtype] of concats) {
    it(`concat matches the cpu backend: ${JSON.stringify([shapes, axis, dtype])}`, async () => {
      const want = await on('cpu', () => tf.concat(parts(shapes, dtype), axis));
      const got = await on('wasm', () => tf.concat(parts(shapes, dtype), axis));
      assert.deepEqual(got, want);
      await tf.setBackend('wasm');
    });
  }

  const stacks: [number[], number, number, 'float32' | 'int32'][] = [
    [[4, 5, 5, 3], 9, 3, 'float32'],
    [[4, 5, 5, 3], 9, 4, 'float32'],
    [[4, 5, 3], 3, 0, 'float32'],
    [[2, 6], 4, -1, 'int32'],
    [[2, 6], 4, 1, 'float32'],
  ];
  for (const [shape, count, axis, dtype] of stacks) {
    it(`stack matches the cpu backend: ${JSON.stringify([shape, count, axis, dtype])}`, async () => {
      const shapes = Array.from({ length: count }, () => shape);
      const want = await on('cpu', () => tf.stack(parts(shapes, dtype), axis));
      const got = await on('wasm', () => tf.stack(parts(shapes, dtype), axis));
      assert.deepEqual(got, want);
      await tf.setBackend('wasm');
    });
  }

  it('concat of booleans still works (wasm’s own kernel)', async () => {
    const got = await on('wasm', () => tf.concat([tf.tensor([true, false], [2], 'bool'), tf.tensor([true], [1], 'bool')]));
    assert.deepEqual(got.values, [1, 0, 1]);
  });
});
