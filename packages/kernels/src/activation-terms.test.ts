import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { ActivationTerms, activationTerms, activationTermsFused, type ActivationTermsKind } from './activation-terms.js';
import { batchNormActInfer, batchNormInferAffine } from './batch-norm-act.js';
import { relError, seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

const BETA = 3;

/** The TF.js formulas of @mitosis/splitting's activationCurvatureTf / activationSlopeTf, op for op. */
function curvature(kind: ActivationTermsKind, z: tf.Tensor): tf.Tensor {
  const softplus = (t: tf.Tensor): tf.Tensor => {
    const s = tf.sigmoid(tf.mul(t, BETA));
    return tf.mul(tf.mul(s, tf.sub(1, s)), BETA);
  };
  if (kind === 'relu') return softplus(z);
  if (kind === 'relu6') return tf.sub(softplus(z), softplus(tf.sub(z, 6)));
  const s = tf.sigmoid(z);
  const s1 = tf.mul(s, tf.sub(1, s));
  return tf.add(tf.mul(s1, 2), tf.mul(tf.mul(z, s1), tf.sub(1, tf.mul(s, 2))));
}

function slopeOf(kind: ActivationTermsKind, z: tf.Tensor): tf.Tensor {
  if (kind === 'relu') return tf.cast(tf.greater(z, 0), 'float32');
  if (kind === 'relu6') return tf.cast(tf.logicalAnd(tf.greater(z, 0), tf.less(z, 6)), 'float32');
  const s = tf.sigmoid(z);
  return tf.add(s, tf.mul(tf.mul(z, s), tf.sub(1, s)));
}

describe('activation terms (coef = g·σ″(z)·a, slope = σ′(z)·b) as one wasm pass', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const kind of ['swish', 'relu', 'relu6'] as const) {
    for (const c of [4, 6, 8, 13]) {
      it(`${kind}, ${c} channels: equals the TF.js formulas, with and without the slope`, async () => {
        assert.ok(activationTermsFused(c));
        const a = Array.from({ length: c }, (_, i) => 0.5 + i / c);
        const b = Array.from({ length: c }, (_, i) => 2 - i / c);
        const start = tf.memory().numTensors;
        tf.tidy(() => {
          // z over [−9, 9] (both ReLU6 kinks, the sigmoid's tails), g signed.
          const z = tf.mul(seeded([3, 5, 7, c], 11), 9);
          const g = seeded([3, 5, 7, c], 12);
          const wantCoef = tf.mul(tf.mul(g, curvature(kind, z)), tf.tensor1d(a)).dataSync();
          const wantSlope = tf.mul(slopeOf(kind, z), tf.tensor1d(b)).dataSync();
          const both = activationTerms(kind, z, g, a, b, BETA);
          assert.ok(relError(both.coef.dataSync(), wantCoef) < 2e-6, `coef ${relError(both.coef.dataSync(), wantCoef)}`);
          assert.ok(relError(both.slope!.dataSync(), wantSlope) < 2e-6, `slope ${relError(both.slope!.dataSync(), wantSlope)}`);
          const only = activationTerms(kind, z, g, a, null, BETA);
          assert.equal(only.slope, null);
          assert.deepEqual(only.coef.dataSync(), both.coef.dataSync());
        });
        assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
        const info = await tf.profile(() => tf.tidy(() => void activationTerms(kind, tf.ones([2, c]), tf.ones([2, c]), a, b, BETA)));
        assert.deepEqual(info.kernelNames, [ActivationTerms]);
      });
    }
  }

  for (const c of [8, 13]) {
    it(`with a batch norm's input and coefficients (affine), ${c} channels: bit for bit the terms of z = batchNormActInfer(x, …, linear)`, () => {
      const gamma = Float32Array.from({ length: c }, (_, i) => 0.6 + i / c);
      const beta = Float32Array.from({ length: c }, (_, i) => 0.3 - i / c);
      const mean = Float32Array.from({ length: c }, (_, i) => 0.2 * Math.sin(i));
      const variance = Float32Array.from({ length: c }, (_, i) => 0.5 + 0.1 * i);
      const eps = 1e-3;
      const a = Array.from({ length: c }, (_, i) => 0.5 + i / c);
      const b = Array.from({ length: c }, (_, i) => 2 - i / c);
      const start = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.mul(seeded([2, 5, 6, c], 21), 4);
        const g = seeded([2, 5, 6, c], 22);
        const z = batchNormActInfer(x, tf.tensor1d(mean), tf.tensor1d(variance), tf.tensor1d(gamma), tf.tensor1d(beta), eps, 'linear');
        for (const kind of ['swish', 'relu6'] as const) {
          const want = activationTerms(kind, z, g, a, b, BETA);
          const got = activationTerms(kind, x, g, a, b, BETA, batchNormInferAffine(gamma, beta, mean, variance, eps));
          assert.deepEqual(got.coef.dataSync(), want.coef.dataSync(), `${kind} coef`);
          assert.deepEqual(got.slope!.dataSync(), want.slope!.dataSync(), `${kind} slope`);
        }
      });
      assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
    });
  }

  it('is not offered for fewer than four channels', () => {
    assert.equal(activationTermsFused(3), false);
  });
});
