import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { MulAdd, MulPair, fusedElementwiseAvailable, mulAdd, mulPair } from './fused-elementwise.js';
import { seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

describe('fused elementwise kernels (wasm)', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const shape of [[64, 8], [3, 7, 5]]) {
    it(`mulPair and mulAdd equal TF.js's mul and add bit for bit: [${shape.join(',')}]`, async () => {
      assert.ok(fusedElementwiseAvailable());
      const start = tf.memory().numTensors;
      tf.tidy(() => {
        const [y, a, b] = [1, 2, 3].map((s) => tf.mul(seeded(shape, s), 3));
        const [ya, yb] = mulPair(y!, a!, b!);
        assert.deepEqual(ya.dataSync(), tf.mul(y!, a!).dataSync());
        assert.deepEqual(yb.dataSync(), tf.mul(y!, b!).dataSync());
        assert.deepEqual(ya.shape, shape);
        assert.deepEqual(mulAdd(y!, a!, b!).dataSync(), tf.add(y!, tf.mul(a!, b!)).dataSync());
      });
      assert.equal(tf.memory().numTensors, start);
      const info = await tf.profile(() => tf.tidy(() => {
        const t = tf.ones(shape);
        mulPair(t, t, t);
        mulAdd(t, t, t);
      }));
      assert.ok(info.kernelNames.includes(MulPair) && info.kernelNames.includes(MulAdd), info.kernelNames.join(','));
    });
  }

  it('falls back to mul and add for tensors of different sizes', () => {
    tf.tidy(() => {
      const y = tf.tensor1d([1, 2, 3, 4]);
      const s = tf.scalar(2);
      assert.deepEqual(Array.from(mulPair(y, s, s)[0].dataSync()), [2, 4, 6, 8]);
      assert.deepEqual(Array.from(mulAdd(y, y, s).dataSync()), [3, 6, 9, 12]);
    });
  });
});
