import { NasError, type ActivationKind } from '@mitosis/core';
import { activationTerms, activationTermsFused } from '@mitosis/kernels';
import { tf } from './tf.js';

/**
 * Second derivatives σ''(z) of every activation of the engine (algorithms.md §2.1), as plain number
 * functions (float64) and as TF.js functions (elementwise, float32).
 *
 * ReLU and ReLU6 have σ'' = 0 almost everywhere; like the reference code we use the curvature of the
 * softplus surrogate with sharpness β, `β·s(βz)(1−s(βz))` (peak β/4 at the kink; β = 3 by default).
 * ReLU6 = relu(z) − relu(z−6) gets the surrogate of each kink: the convex one at 0 minus the concave one
 * at 6. `identity` has σ'' ≡ 0 exactly: no curvature is invented for linear neurons.
 */

/** The softplus sharpness used for the ReLU/ReLU6 surrogate curvature unless configured. */
export const DEFAULT_RELU_BETA = 3;

/** Options of the curvature functions. */
export interface CurvatureOptions {
  /** Sharpness β of the softplus surrogate for relu/relu6 (> 0). Default {@link DEFAULT_RELU_BETA}. */
  readonly reluBeta?: number;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** β·s(βz)(1−s(βz)), the second derivative of softplus_β(z) = log(1+e^{βz})/β. */
function softplusBetaCurvature(z: number, beta: number): number {
  const s = sigmoid(beta * z);
  return beta * s * (1 - s);
}

/** True when σ'' of `kind` is identically zero (no surrogate): the splitting matrix is exactly 0. */
export function hasZeroCurvature(kind: ActivationKind): boolean {
  return kind === 'identity';
}

/** The activation itself, σ(z), in float64 (tests and finite differences). */
export function activationValue(kind: ActivationKind, z: number): number {
  switch (kind) {
    case 'relu':
      return Math.max(z, 0);
    case 'relu6':
      return Math.min(Math.max(z, 0), 6);
    case 'tanh':
      return Math.tanh(z);
    case 'sigmoid':
      return sigmoid(z);
    case 'softplus':
      return z > 30 ? z : Math.log1p(Math.exp(z));
    case 'swish':
      return z * sigmoid(z);
    case 'gaussian':
      return Math.exp(-0.5 * z * z);
    case 'identity':
      return z;
  }
}

/**
 * σ''(z) of `kind` in float64 (relu/relu6: the softplus-β surrogate curvature, see the module doc).
 * Throws `E_OPTIONS_INVALID` for a non-positive β.
 */
export function activationCurvature(kind: ActivationKind, z: number, options: CurvatureOptions = {}): number {
  const beta = checkBeta(options.reluBeta);
  switch (kind) {
    case 'relu':
      return softplusBetaCurvature(z, beta);
    case 'relu6':
      return softplusBetaCurvature(z, beta) - softplusBetaCurvature(z - 6, beta);
    case 'tanh': {
      const t = Math.tanh(z);
      return -2 * t * (1 - t * t);
    }
    case 'sigmoid': {
      const s = sigmoid(z);
      return s * (1 - s) * (1 - 2 * s);
    }
    case 'softplus': {
      const s = sigmoid(z);
      return s * (1 - s);
    }
    case 'swish': {
      const s = sigmoid(z);
      return 2 * s * (1 - s) + z * s * (1 - s) * (1 - 2 * s);
    }
    case 'gaussian':
      return (z * z - 1) * Math.exp(-0.5 * z * z);
    case 'identity':
      return 0;
  }
}

function checkBeta(beta: number | undefined): number {
  const b = beta ?? DEFAULT_RELU_BETA;
  if (!(b > 0) || !Number.isFinite(b)) {
    throw new NasError('E_OPTIONS_INVALID', `reluBeta must be a positive finite number, got ${b}`, { reluBeta: b });
  }
  return b;
}

function tfSoftplusBetaCurvature(z: tf.Tensor, beta: number): tf.Tensor {
  return tf.tidy(() => {
    const s = tf.sigmoid(tf.mul(z, beta));
    return tf.mul(tf.mul(s, tf.sub(1, s)), beta);
  });
}

/**
 * σ''(z) elementwise as a TF.js tensor of z's shape (same formulas as {@link activationCurvature}).
 * The caller owns the result; intermediates are disposed.
 */
export function activationCurvatureTf(kind: ActivationKind, z: tf.Tensor, options: CurvatureOptions = {}): tf.Tensor {
  const beta = checkBeta(options.reluBeta);
  return tf.tidy(() => {
    switch (kind) {
      case 'relu':
        return tfSoftplusBetaCurvature(z, beta);
      case 'relu6':
        return tf.sub(tfSoftplusBetaCurvature(z, beta), tfSoftplusBetaCurvature(tf.sub(z, 6), beta));
      case 'tanh': {
        const t = tf.tanh(z);
        return tf.mul(tf.mul(t, tf.sub(1, tf.square(t))), -2);
      }
      case 'sigmoid': {
        const s = tf.sigmoid(z);
        return tf.mul(tf.mul(s, tf.sub(1, s)), tf.sub(1, tf.mul(s, 2)));
      }
      case 'softplus': {
        const s = tf.sigmoid(z);
        return tf.mul(s, tf.sub(1, s));
      }
      case 'swish': {
        const s = tf.sigmoid(z);
        const s1 = tf.mul(s, tf.sub(1, s));
        return tf.add(tf.mul(s1, 2), tf.mul(tf.mul(z, s1), tf.sub(1, tf.mul(s, 2))));
      }
      case 'gaussian': {
        const z2 = tf.square(z);
        return tf.mul(tf.sub(z2, 1), tf.exp(tf.mul(z2, -0.5)));
      }
      case 'identity':
        return tf.zerosLike(z);
    }
  });
}

/**
 * σ'(z) elementwise as a TF.js tensor of z's shape: the exact derivative (relu/relu6: the step, 0 at the kinks).
 * The splitting operator uses it to carry a direction through an activation that sits between a producer and its
 * linear consumers (the curvature of the later nonlinearities of a depthwise chain).
 */
export function activationSlopeTf(kind: ActivationKind, z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    switch (kind) {
      case 'relu':
        return tf.cast(tf.greater(z, 0), 'float32');
      case 'relu6':
        return tf.cast(tf.logicalAnd(tf.greater(z, 0), tf.less(z, 6)), 'float32');
      case 'tanh': {
        const t = tf.tanh(z);
        return tf.sub(1, tf.square(t));
      }
      case 'sigmoid': {
        const s = tf.sigmoid(z);
        return tf.mul(s, tf.sub(1, s));
      }
      case 'softplus':
        return tf.sigmoid(z);
      case 'swish': {
        const s = tf.sigmoid(z);
        return tf.add(s, tf.mul(tf.mul(z, s), tf.sub(1, s)));
      }
      case 'gaussian':
        return tf.mul(tf.neg(z), tf.exp(tf.mul(tf.square(z), -0.5)));
      case 'identity':
        return tf.onesLike(z);
    }
  });
}

/**
 * A pre-activation z given as an inference batch norm's input `x` and its per-channel float32 coefficients
 * (z = x·scale + shift, see `batchNormInferAffine`), with `z()` computing z as the network pass would (used
 * where the fused pass does not apply; the caller disposes what it returns).
 */
export interface BatchNormInput {
  readonly x: tf.Tensor;
  readonly scale: Float32Array;
  readonly shift: Float32Array;
  readonly z: () => tf.Tensor;
}

function isBatchNormInput(z: tf.Tensor | BatchNormInput): z is BatchNormInput {
  return (z as Partial<BatchNormInput>).scale !== undefined;
}

/**
 * The per-element terms of a splitting matrix at one activation: `coef = g·σ''(z)·coefFactors` and, with
 * `slopeFactors`, `slope = σ'(z)·slopeFactors` (factors per channel: z's last axis; null means 1). One fused wasm
 * pass for swish, ReLU and ReLU6 (`@mitosis/kernels`' `activationTerms`, within a few float32 ulps of the TF.js
 * formulas), otherwise {@link activationCurvatureTf} and {@link activationSlopeTf}. z may be given as a batch
 * norm's input ({@link BatchNormInput}): the fused pass then forms z itself and z is never written. The caller
 * owns the results.
 */
export function activationTermsTf(
  kind: ActivationKind,
  z: tf.Tensor | BatchNormInput,
  g: tf.Tensor,
  coefFactors: Float32Array | null,
  slopeFactors: Float32Array | null,
  wantSlope: boolean,
  options: CurvatureOptions = {},
): { coef: tf.Tensor; slope: tf.Tensor | null } {
  const beta = checkBeta(options.reluBeta);
  const zIn = isBatchNormInput(z) ? z.x : z;
  const channels = zIn.shape[zIn.rank - 1] ?? 1;
  if ((kind === 'swish' || kind === 'relu' || kind === 'relu6') && zIn.dtype === 'float32' && g.dtype === 'float32' && activationTermsFused(channels)) {
    const ones = (): Float32Array => new Float32Array(channels).fill(1);
    const affine = isBatchNormInput(z) ? { scale: z.scale, shift: z.shift } : undefined;
    return activationTerms(kind, zIn, g, coefFactors ?? ones(), wantSlope ? (slopeFactors ?? ones()) : null, beta, affine);
  }
  const [coef, slope] = tf.tidy(() => {
    const zt = isBatchNormInput(z) ? z.z() : z;
    const curved = tf.mul(g, activationCurvatureTf(kind, zt, options));
    const c = coefFactors === null ? curved : tf.mul(curved, tf.tensor1d(coefFactors));
    if (!wantSlope) return [c];
    const s = activationSlopeTf(kind, zt);
    return [c, slopeFactors === null ? s : tf.mul(s, tf.tensor1d(slopeFactors))];
  });
  return { coef: coef!, slope: slope ?? null };
}
