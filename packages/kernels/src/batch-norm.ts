import * as tf from '@tensorflow/tfjs-core';

import {
  batchNormGradApplySimd,
  batchNormGradSumsSimd,
  batchNormSimdAvailable,
  channelMomentsSimd,
} from './batch-norm-simd.js';
import { channelAffine } from './channel-affine.js';
import { columnMeans } from './sum-channels.js';
import { typedCustomGrad } from './typed-custom-grad.js';

/** Result of {@link batchNormTrain}. */
export interface BatchNormTrainResult {
  /** Normalised, scaled and shifted output, same shape as the input `[N, H, W, C]` (or `[N, C]`). */
  readonly y: tf.Tensor;
  /** Batch mean per channel `[C]`. Not differentiable: gradients flow only through `y`. */
  readonly mean: tf.Tensor1D;
  /** Biased (population) batch variance per channel `[C]`. Not differentiable. */
  readonly variance: tf.Tensor1D;
}

/**
 * Batch normalisation with batch statistics (training mode), NHWC:
 * `y = γ · (x − μ) / √(σ² + ε) + β`, with μ and σ² (biased) taken over every axis but the last.
 *
 * Statistics are reduced with `columnMeans` (an average pool) and `squaredDifference`; `y` is
 * computed in one pass as `x · a + b` ({@link channelAffine}) with per-channel `a = γ/√(σ²+ε)`,
 * `b = β − μ·a`. The backward pass is one
 * closed-form custom gradient (Ioffe & Szegedy 2015, §3):
 * `dβ = Σdy`, `dγ = Σ dy·x̂`, `dx = a·(dy − dβ/M − x̂·dγ/M)`, evaluated as `dy·a + x·k + c` with
 * per-channel `k`, `c`, where M = N·H·W.
 *
 * @param x `[N, H, W, C]` or `[N, C]`
 * @param gamma scale `[C]`
 * @param beta shift `[C]`
 * @param epsilon added to the variance, > 0
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-3,
): BatchNormTrainResult {
  return batchNormTrainImpl(x, gamma, beta, epsilon, false);
}

/**
 * {@link batchNormTrain} followed by ReLU, `y = max(0, BN(x))`, as one custom gradient: the ReLU
 * mask is applied as `dy · step(y)` inside the fused backward (TF.js's own ReLU gradient adds a
 * cast pass). Same shapes and statistics as {@link batchNormTrain}.
 */
export function batchNormReluTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-3,
): BatchNormTrainResult {
  return batchNormTrainImpl(x, gamma, beta, epsilon, true);
}

function batchNormTrainImpl(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): BatchNormTrainResult {
  const c = x.shape[x.shape.length - 1] ?? 1;
  const m = x.size / c;
  // On wasm with SIMD (C a multiple of 4): statistics in two fused passes, backward in two (see batch-norm-simd.ts).
  const simd = batchNormSimdAvailable(c);
  const [mean2, variance2] = tf.tidy(() => {
    const x2 = tf.reshape(x, [m, c]) as tf.Tensor2D;
    if (simd) {
      const mv = channelMomentsSimd(x2);
      return [tf.slice(mv, [0, 0], [1, c]), tf.slice(mv, [1, 0], [1, c])];
    }
    const mu = columnMeans(x2);
    const v = columnMeans(tf.squaredDifference(x2, mu) as tf.Tensor2D);
    return [mu, v];
  });
  const f = typedCustomGrad(([xi, g, b], save) => {
    if (xi === undefined || g === undefined || b === undefined) throw new Error('batchNorm: 3 inputs');
    const invStd = tf.rsqrt(tf.add(variance2, epsilon));
    const scale = tf.mul(tf.reshape(g, [1, c]), invStd);
    const shift = tf.sub(tf.reshape(b, [1, c]), tf.mul(mean2, scale));
    const x2 = tf.reshape(xi, [m, c]);
    const y2 = channelAffine(x2, scale, shift, relu);
    const value = tf.reshape(y2, xi.shape);
    save(relu ? [x2, mean2, invStd, scale, y2] : [x2, mean2, invStd, scale]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, is, a, ys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D?];
        const dyIn = tf.reshape(dy, [m, c]);
        if (simd) {
          const sums = batchNormGradSumsSimd(dyIn as tf.Tensor2D, xs, ys);
          const meanDy = tf.mul(tf.slice(sums, [0, 0], [1, c]), 1 / m);
          const meanDyX = tf.mul(tf.slice(sums, [1, 0], [1, c]), 1 / m);
          const dGammaOverM = tf.mul(is, tf.sub(meanDyX, tf.mul(mu, meanDy)));
          const k = tf.neg(tf.mul(tf.mul(a, is), dGammaOverM));
          const cc = tf.sub(tf.neg(tf.mul(a, meanDy)), tf.mul(k, mu));
          const dx = batchNormGradApplySimd(dyIn as tf.Tensor2D, xs, tf.concat([a, k, cc], 0) as tf.Tensor2D, ys);
          return [tf.reshape(dx, x.shape), tf.reshape(tf.mul(dGammaOverM, m), [c]), tf.reshape(tf.mul(meanDy, m), [c])];
        }
        const dy2 = (ys === undefined ? dyIn : tf.mul(dyIn, tf.step(ys))) as tf.Tensor2D;
        const meanDy = columnMeans(dy2);
        const meanDyX = columnMeans(tf.mul(dy2, xs) as tf.Tensor2D);
        // dγ/M = invStd·(mean(dy·x) − μ·mean(dy)); dβ = M·mean(dy).
        const dGammaOverM = tf.mul(is, tf.sub(meanDyX, tf.mul(mu, meanDy)));
        const k = tf.neg(tf.mul(tf.mul(a, is), dGammaOverM));
        const cc = tf.sub(tf.neg(tf.mul(a, meanDy)), tf.mul(k, mu));
        const dx = tf.add(channelAffine(dy2, a), channelAffine(xs, k, cc));
        return [tf.reshape(dx, x.shape), tf.reshape(tf.mul(dGammaOverM, m), [c]), tf.reshape(tf.mul(meanDy, m), [c])];
      },
    };
  });
  const y = f(x, gamma, beta);
  const mean = tf.reshape(mean2, [c]) as tf.Tensor1D;
  const variance = tf.reshape(variance2, [c]) as tf.Tensor1D;
  mean2.dispose();
  variance2.dispose();
  return { y, mean, variance };
}

/**
 * Batch normalisation with given (running) statistics, inference mode, NHWC:
 * `y = x · a + b` with `a = γ/√(σ² + ε)`, `b = β − μ·a`, in one pass ({@link channelAffine};
 * wasm's `FusedBatchNorm` is ≈ 10× slower). Differentiable with TF.js's stock gradients.
 *
 * @param x `[..., C]`
 * @param mean `[C]`
 * @param variance `[C]`
 * @param gamma `[C]`
 * @param beta `[C]`
 */
export function batchNormInfer(
  x: tf.Tensor,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-3,
): tf.Tensor {
  return tf.tidy(() => {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, epsilon)));
    const shift = tf.sub(beta, tf.mul(mean, scale));
    return channelAffine(x, scale, shift);
  });
}
