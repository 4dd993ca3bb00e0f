import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { seededValues } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

async function padOn(backend: string, shape: number[], paddings: [number, number][], value: number, dtype: 'float32' | 'int32'): Promise<number[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const v = seededValues(shape.reduce((a, b) => a * b, 1), 3).map((e) => (dtype === 'int32' ? Math.round(e * 100) : e));
    return Array.from(tf.pad(tf.tensor(v, shape, dtype), paddings, value).dataSync());
  });
}

describe('PadV2 on wasm', () => {
  before(async () => {
    await initWasmBackend();
  });

  const cases: [number[], [number, number][], number, 'float32' | 'int32'][] = [
    [[4, 5, 5, 1], [[0, 1], [1, 1], [1, 1], [0, 3]], 0, 'float32'],
    [[3, 6, 6, 8], [[0, 0], [1, 1], [1, 1], [0, 0]], 0, 'float32'],
    [[2, 3, 1, 4, 1, 2], [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]], 0, 'float32'],
    [[7], [[2, 3]], -1.5, 'float32'],
    [[5, 40], [[1, 0], [0, 0]], 2, 'float32'],
    [[3, 4, 5], [[0, 0], [0, 0], [0, 0]], 0, 'float32'],
    [[2, 3, 4], [[1, 2], [0, 1], [2, 0]], 7, 'int32'],
    [[0, 3], [[1, 1], [0, 0]], 4, 'float32'],
  ];
  for (const [shape, paddings, value, dtype] of cases) {
    it(`matches the cpu backend: ${JSON.stringify([shape, paddings, value, dtype])}`, async () => {
      const want = await padOn('cpu', shape, paddings, value, dtype);
      const got = await padOn('wasm', shape, paddings, value, dtype);
      assert.deepEqual(got, want);
      await tf.setBackend('wasm');
    });
  }
});
