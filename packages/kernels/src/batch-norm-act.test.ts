import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { BatchNormActInfer, BatchNormActInferGrad, batchNormActFused, batchNormActInfer, batchNormActTrain, type BatchNormActivation } from './batch-norm-act.js';
import { batchNormInfer } from './batch-norm.js';
import { relError, seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

const EPS = 1e-3;

/** The unfused composition of TF.js ops (moments, batchNorm, activation), differentiated by autodiff. */
function reference(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, act: BatchNormActivation): tf.Tensor {
  const axes = x.shape.map((_, i) => i).slice(0, -1);
  const { mean, variance } = tf.moments(x, axes);
  const z = tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, EPS);
  if (act === 'relu') return tf.relu(z);
  if (act === 'relu6') return tf.relu6(z);
  if (act === 'swish') return tf.mul(z, tf.sigmoid(z));
  return z;
}

/** y, mean, variance and the gradients (x, γ, β) of Σ y·r, fused or by the reference. */
function layerCase(shape: number[], act: BatchNormActivation, fused: boolean): tf.Tensor[] {
  const c = shape[shape.length - 1] ?? 1;
  const x = tf.add(tf.mul(seeded(shape, 1), 3), 0.5);
  const gamma = tf.add(seeded([c], 2), 1.5);
  const beta = seeded([c], 3);
  const r = seeded(shape, 4);
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor =>
    fused ? batchNormActTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, EPS, act).y : reference(a, g, b, act);
  const stats = fused
    ? (() => {
        const out = batchNormActTrain(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, EPS, act);
        return [out.mean, out.variance];
      })()
    : (() => {
        const m = tf.moments(x, shape.map((_, i) => i).slice(0, -1));
        return [m.mean, m.variance];
      })();
  const y = f(x, gamma, beta);
  const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), r)))([x, gamma, beta]);
  return [y, ...stats, ...grads];
}

describe('batchNormActTrain (fused wasm kernels)', () => {
  before(async () => {
    await initWasmBackend();
  });

  const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];
  for (const act of ['linear', 'relu', 'relu6', 'swish'] as const) {
    for (const shape of [
      [2, 3, 5, 8],
      [3, 4, 4, 6],
      [64, 32],
      [5, 7],
      [2, 30, 20, 4],
      [3, 3, 3, 13],
    ]) {
      it(`matches the unfused ops, values and gradients: ${act} ${JSON.stringify(shape)}`, () => {
        assert.ok(batchNormActFused(shape[shape.length - 1] ?? 1));
        const got = tf.tidy(() => layerCase(shape, act, true).map((t) => t.dataSync() as Float32Array));
        const want = tf.tidy(() => layerCase(shape, act, false).map((t) => t.dataSync() as Float32Array));
        got.forEach((g, i) => {
          const err = relError(g, want[i] as Float32Array);
          assert.ok(err < 2e-5, `${names[i]}: relative error ${err}`);
        });
      });
    }
  }

  for (const act of ['linear', 'relu', 'relu6', 'swish'] as const) {
    it(`inference mode matches batchNormInfer and the activation op: ${act}`, async () => {
      const run = (fused: boolean): Float32Array =>
        tf.tidy(() => {
          const x = tf.mul(seeded([3, 5, 5, 6], 21), 4);
          const mean = seeded([6], 22) as tf.Tensor1D;
          const variance = tf.add(tf.abs(seeded([6], 23)), 0.5) as tf.Tensor1D;
          const gamma = tf.add(seeded([6], 24), 2) as tf.Tensor1D;
          const beta = seeded([6], 25) as tf.Tensor1D;
          if (fused) return batchNormActInfer(x, mean, variance, gamma, beta, EPS, act).dataSync() as Float32Array;
          const z = batchNormInfer(x, mean, variance, gamma, beta, EPS);
          const y = act === 'relu' ? tf.relu(z) : act === 'relu6' ? tf.relu6(z) : act === 'swish' ? tf.mul(z, tf.sigmoid(z)) : z;
          return y.dataSync() as Float32Array;
        });
      assert.ok(relError(run(true), run(false)) < 2e-5);
      const info = await tf.profile(() => tf.tidy(() => void batchNormActInfer(tf.ones([2, 4]), tf.zeros([4]), tf.ones([4]), tf.ones([4]), tf.zeros([4]), EPS, act)));
      assert.ok(info.kernelNames.includes(BatchNormActInfer));
    });
  }

  for (const act of ['linear', 'relu', 'relu6', 'swish'] as const) {
    for (const c of [6, 8]) {
      it(`inference mode: the registered gradients (input, statistics, parameters) equal the unfused ones: ${act}, C = ${c}`, async () => {
        const grads = (fused: boolean): Float32Array[] =>
          tf.tidy(() => {
            const x = tf.mul(seeded([3, 4, 5, c], 41), 3);
            const mean = seeded([c], 42);
            const variance = tf.add(tf.abs(seeded([c], 43)), 0.5);
            const gamma = tf.add(seeded([c], 44), 2);
            const beta = seeded([c], 45);
            const r = seeded([3, 4, 5, c], 46);
            const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar => {
              const [m1, v1, g1, b1] = [m, v, g, b] as tf.Tensor1D[];
              if (fused) return tf.sum(tf.mul(batchNormActInfer(a, m1!, v1!, g1!, b1!, EPS, act), r));
              const z = batchNormInfer(a, m1!, v1!, g1!, b1!, EPS);
              const y = act === 'relu' ? tf.relu(z) : act === 'relu6' ? tf.relu6(z) : act === 'swish' ? tf.mul(z, tf.sigmoid(z)) : z;
              return tf.sum(tf.mul(y, r));
            };
            return tf.grads(f as (...a: tf.Tensor[]) => tf.Scalar)([x, mean, variance, gamma, beta]).map((t) => t.dataSync() as Float32Array);
          });
        const [fused, plain] = [grads(true), grads(false)];
        ['x', 'mean', 'variance', 'gamma', 'beta'].forEach((name, i) => assert.ok(relError(fused[i]!, plain[i]!) < 5e-5, `${name}: ${relError(fused[i]!, plain[i]!)}`));
        // Only the input's gradient asked for: one backward kernel, none of the parameter gradients' ops.
        const info = await tf.profile(() =>
          tf.tidy(() => {
            const [m, v, g, b] = [tf.zeros([c]), tf.ones([c]), tf.fill([c], 2), tf.zeros([c])] as tf.Tensor1D[];
            void tf.grad((a: tf.Tensor) => tf.sum(batchNormActInfer(a, m!, v!, g!, b!, EPS, act)))(seeded([2, 3, 3, c], 47));
          }),
        );
        if (batchNormActFused(c)) {
          assert.equal(info.kernelNames.filter((k) => k === BatchNormActInferGrad).length, 1);
          assert.ok(!info.kernelNames.includes('Rsqrt') && !info.kernelNames.includes('Sigmoid'), info.kernelNames.join(','));
        }
      });
    }
  }

  it('relu6 saturates at 6 and passes no gradient there, like tf.relu6', () => {
    const run = (fused: boolean): Float32Array[] =>
      tf.tidy(() => {
        const x = seeded([4, 6, 6, 8], 11);
        const gamma = tf.fill([8], 6) as tf.Tensor1D;
        const beta = tf.fill([8], 1) as tf.Tensor1D;
        const r = seeded([4, 6, 6, 8], 12);
        const f = (a: tf.Tensor, g: tf.Tensor): tf.Tensor =>
          fused ? batchNormActTrain(a, g as tf.Tensor1D, beta, EPS, 'relu6').y : reference(a, g, beta, 'relu6');
        const y = f(x, gamma);
        const [dx, dg] = tf.grads((a: tf.Tensor, g: tf.Tensor) => tf.sum(tf.mul(f(a, g), r)))([x, gamma]);
        return [y, dx as tf.Tensor, dg as tf.Tensor].map((t) => t.dataSync() as Float32Array);
      });
    const got = run(true);
    const want = run(false);
    const y = got[0] as Float32Array;
    assert.ok(y.some((v) => v === 6) && y.some((v) => v === 0), 'both clipping regions are exercised');
    got.forEach((g, i) => assert.ok(relError(g, want[i] as Float32Array) < 2e-5, `output ${i}`));
  });

  it('computes swish within float32 rounding over a wide range, saturating cleanly', () => {
    const zs = Float32Array.from({ length: 4001 }, (_, i) => (i - 2000) / 20);
    // γ = σ (so that the normalised value is x − μ) and β = μ: the layer's output is swish(x) up to rounding.
    const got = tf.tidy(() => {
      const x = tf.reshape(tf.tensor1d(zs), [-1, 1]);
      const x4 = tf.tile(x, [1, 4]);
      const { mean, variance } = tf.moments(x4, [0]);
      const gamma = tf.sqrt(tf.add(variance, EPS)) as tf.Tensor1D;
      return batchNormActTrain(x4, gamma, mean as tf.Tensor1D, EPS, 'swish').y.dataSync() as Float32Array;
    });
    let worst = 0;
    for (let i = 0; i < zs.length; i++) {
      const z = zs[i] as number;
      const want = z / (1 + Math.exp(-z));
      const err = Math.abs((got[4 * i] as number) - want) / Math.max(1, Math.abs(want));
      worst = Math.max(worst, err);
    }
    assert.ok(worst < 1e-5, `worst error ${worst}`);
  });

  it('leaves no tensors behind under a gradient', () => {
    const x = seeded([4, 5, 5, 8], 7);
    const gamma = tf.variable(tf.ones([8])) as tf.Variable<tf.Rank.R1>;
    const beta = tf.variable(tf.zeros([8])) as tf.Variable<tf.Rank.R1>;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => {
        const r = batchNormActTrain(x, gamma, beta, EPS, 'swish');
        tf.dispose([r.mean, r.variance]);
        return tf.sum(r.y) as tf.Scalar;
      });
      assert.equal(Object.keys(grads).length, 2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, gamma, beta]);
  });
});
