import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { batchNormInfer, batchNormReluTrain, batchNormTrain } from './batch-norm.js';
import { BatchNormGradApply, BatchNormGradSums, ChannelMoments } from './batch-norm-simd.js';
import { channelAffine } from './channel-affine.js';
import { softmaxCrossEntropy } from './softmax-cross-entropy.js';
import { globalAvgPool, sumChannels } from './sum-channels.js';
import { onBackend, relError, seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

const TOL = 1e-4;
const EPS = 1e-3;

/** Reference BN from TF.js's own ops (moments + batchNorm), differentiated by autodiff. */
function referenceBn(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const axes = x.shape.map((_, i) => i).slice(0, -1);
  const { mean, variance } = tf.moments(x, axes);
  return tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, EPS);
}

function bnCase(shape: number[], fused: boolean, relu = false): tf.Tensor[] {
  const c = shape[shape.length - 1] ?? 1;
  const x = tf.add(tf.mul(seeded(shape, 1), 3), 0.5);
  const gamma = tf.add(seeded([c], 2), 1.5);
  const beta = seeded([c], 3);
  const r = seeded(shape, 4);
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    if (fused && relu) return batchNormReluTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS).y;
    if (fused) return batchNormTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS).y;
    return relu ? tf.relu(referenceBn(a, g, b)) : referenceBn(a, g, b);
  };
  const y = f(x, gamma, beta);
  const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), r)))([
    x,
    gamma,
    beta,
  ]);
  return [y, ...grads];
}

describe('batchNormTrain', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const shape of [
    [2, 3, 5, 4],
    [3, 4, 4, 6],
    [5, 7],
    [3, 20, 20, 8],
    [40, 12],
  ]) {
    it(`matches autodiff of moments + batchNorm on cpu, output and gradients, ${JSON.stringify(shape)}`, async () => {
      const ref = await onBackend('cpu', () => bnCase(shape, false));
      for (const backend of ['cpu', 'wasm']) {
        const got = await onBackend(backend, () => bnCase(shape, true));
        ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => {
          const e = relError(got[i] ?? [], ref[i] ?? []);
          assert.ok(e <= TOL, `${backend} ${name} rel err ${e}`);
        });
      }
    });
  }

  // [3, 20, 20, 8]: M = 1200 rows, more than one partial-sum block of the SIMD kernels.
  for (const shape of [
    [2, 3, 5, 4],
    [3, 20, 20, 8],
  ]) {
    it(`with ReLU fused matches tf.relu of the reference, output and gradients, ${JSON.stringify(shape)}`, async () => {
      const ref = await onBackend('cpu', () => bnCase(shape, false, true));
      for (const backend of ['cpu', 'wasm']) {
        const got = await onBackend(backend, () => bnCase(shape, true, true));
        ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => {
          const e = relError(got[i] ?? [], ref[i] ?? []);
          assert.ok(e <= TOL, `${backend} ${name} rel err ${e}`);
        });
      }
    });
  }

  it('uses the fused SIMD kernels on wasm when C is a multiple of 4', async () => {
    await tf.setBackend('wasm');
    for (const relu of [false, true]) {
      const info = await tf.profile(() => tf.dispose(bnCase([2, 3, 5, 8], true, relu)));
      for (const k of [ChannelMoments, BatchNormGradSums, BatchNormGradApply]) {
        assert.ok(info.kernelNames.includes(k), `${k} missing from ${info.kernelNames.join(', ')}`);
      }
    }
  });

  it('returns batch mean and biased variance per channel', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.tensor4d([1, 10, 3, 20, 5, 30, 7, 40], [2, 2, 1, 2]);
      const r = batchNormTrain(x, tf.ones([2]) as tf.Tensor1D, tf.zeros([2]) as tf.Tensor1D);
      assert.ok(relError(r.mean.dataSync(), [4, 25]) < 1e-6);
      assert.ok(relError(r.variance.dataSync(), [5, 125]) < 1e-6);
    });
  });

  it('leaves no tensors behind, forward and backward', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => bnCase([2, 3, 3, 4], true));
    assert.equal(tf.memory().numTensors, before + 4);
    tf.dispose(out);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('batchNormInfer', () => {
  it('equals tf.batchNorm with the given statistics', async () => {
    await tf.setBackend('cpu');
    tf.tidy(() => {
      const x = seeded([2, 3, 3, 4], 5);
      const mean = seeded([4], 6) as tf.Tensor1D;
      const variance = tf.add(tf.abs(seeded([4], 7)), 0.1) as tf.Tensor1D;
      const gamma = seeded([4], 8) as tf.Tensor1D;
      const beta = seeded([4], 9) as tf.Tensor1D;
      const got = batchNormInfer(x, mean, variance, gamma, beta, EPS).dataSync();
      const want = tf.batchNorm(x, mean, variance, beta, gamma, EPS).dataSync();
      assert.ok(relError(got, want) <= 1e-5);
    });
  });
});

describe('channelAffine', () => {
  for (const relu of [false, true]) {
    it(`matches x·scale + shift${relu ? ' + ReLU' : ''} and its autodiff gradients`, async () => {
      const f = (fused: boolean): tf.Tensor[] => {
        const x = seeded([3, 4, 5, 6], 14);
        const s = seeded([6], 15);
        const b = seeded([6], 16);
        const r = seeded([3, 4, 5, 6], 17);
        const g = (a: tf.Tensor, sc: tf.Tensor, sh: tf.Tensor): tf.Tensor => {
          if (fused) return channelAffine(a, sc, sh, relu);
          const z = tf.add(tf.mul(a, sc), sh);
          return relu ? tf.relu(z) : z;
        };
        return [g(x, s, b), ...tf.grads((a: tf.Tensor, sc: tf.Tensor, sh: tf.Tensor) => tf.sum(tf.mul(g(a, sc, sh), r)))([x, s, b])];
      };
      const ref = await onBackend('cpu', () => f(false));
      for (const backend of ['cpu', 'wasm']) {
        const got = await onBackend(backend, () => f(true));
        got.forEach((v, i) => assert.ok(relError(v, ref[i] ?? []) <= TOL, `${backend} output ${i}`));
      }
    });
  }
});

describe('reductions and loss', () => {
  it('sumChannels and globalAvgPool match tf.sum / tf.mean, with gradients', async () => {
    const f = (): tf.Tensor[] => {
      const x = seeded([3, 4, 5, 6], 10) as tf.Tensor4D;
      const r6 = seeded([6], 11);
      const r36 = seeded([3, 6], 12);
      return [
        sumChannels(x),
        globalAvgPool(x),
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(sumChannels(a), r6)))(x),
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(globalAvgPool(a as tf.Tensor4D), r36)))(x),
      ];
    };
    const ref = await onBackend('cpu', () => {
      const x = seeded([3, 4, 5, 6], 10);
      const r6 = seeded([6], 11);
      const r36 = seeded([3, 6], 12);
      return [
        tf.sum(x, [0, 1, 2]),
        tf.mean(x, [1, 2]),
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.sum(a, [0, 1, 2]), r6)))(x),
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.mean(a, [1, 2]), r36)))(x),
      ];
    });
    for (const backend of ['cpu', 'wasm']) {
      const got = await onBackend(backend, f);
      got.forEach((g, i) => assert.ok(relError(g, ref[i] ?? []) <= TOL, `${backend} output ${i}`));
    }
  });

  it('softmaxCrossEntropy matches tf.losses.softmaxCrossEntropy, with gradients', async () => {
    const f = (fused: boolean): tf.Tensor[] => {
      const z = tf.mul(seeded([4, 5], 13), 4) as tf.Tensor2D;
      const t = tf.cast(tf.oneHot(tf.tensor1d([0, 3, 2, 4], 'int32'), 5), 'float32') as tf.Tensor2D;
      const loss = (a: tf.Tensor): tf.Scalar =>
        fused
          ? softmaxCrossEntropy(a as tf.Tensor2D, t)
          : (tf.losses.softmaxCrossEntropy(t, a as tf.Tensor2D) as tf.Scalar);
      return [loss(z), tf.grad(loss)(z)];
    };
    const ref = await onBackend('cpu', () => f(false));
    for (const backend of ['cpu', 'wasm']) {
      const got = await onBackend(backend, () => f(true));
      got.forEach((g, i) => assert.ok(relError(g, ref[i] ?? []) <= TOL, `${backend} output ${i}`));
    }
  });
});
