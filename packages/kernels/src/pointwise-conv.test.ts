import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { RowMatMul } from './pointwise-conv.js';
import { onBackend, relError, seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

const TOL = 1e-5;

/** [batch, h, w, inC, outC, pad]: the first three take the SIMD path (N·H·W % 4 = 0, outC % 8 = 0). */
const cases: [number, number, number, number, number, 'same' | 'valid'][] = [
  [2, 6, 7, 8, 16, 'same'],
  [3, 5, 4, 3, 8, 'valid'],
  [1, 20, 20, 12, 24, 'same'],
  [1, 3, 3, 4, 8, 'same'],
  [2, 6, 7, 8, 12, 'same'],
];

function conv(c: (typeof cases)[number]): tf.Tensor[] {
  const [n, h, w, ci, co, pad] = c;
  return [tf.conv2d(seeded([n, h, w, ci], 1) as tf.Tensor4D, seeded([1, 1, ci, co], 2) as tf.Tensor4D, 1, pad)];
}

describe('pointwise convolution forward on wasm', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const c of cases) {
    it(`matches the cpu backend: ${JSON.stringify(c)}`, async () => {
      const [ref] = await onBackend('cpu', () => conv(c));
      const [got] = await onBackend('wasm', () => conv(c));
      assert.ok(ref && got);
      assert.ok(relError(got, ref) <= TOL, `rel err ${relError(got, ref)}`);
    });
  }

  it('runs the SIMD product only where it fits, leaving no tensors', async () => {
    await tf.setBackend('wasm');
    const used = async (c: (typeof cases)[number]): Promise<boolean> =>
      (await tf.profile(() => tf.dispose(tf.tidy(() => conv(c))))).kernelNames.includes(RowMatMul);
    assert.equal(await used(cases[0] as (typeof cases)[number]), true);
    assert.equal(await used(cases[3] as (typeof cases)[number]), false); // N·H·W = 9
    assert.equal(await used(cases[4] as (typeof cases)[number]), false); // 12 output channels
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => conv(cases[0] as (typeof cases)[number]));
    assert.equal(tf.memory().numTensors, before + 1);
    tf.dispose(out);
    assert.equal(tf.memory().numTensors, before);
  });
});
