import * as tf from '@tensorflow/tfjs-core';

import { typedCustomGrad } from './typed-custom-grad.js';

/**
 * `[C, 1]` column sums of a `[M, C]` matrix as `x2ᵀ · ones[M, 1]` (`transposeA`). On wasm the
 * right operand of `matMul` is packed as XNNPACK weights on every call, so the large fresh tensor
 * must be the left operand: `ones[1, M] · x2` costs ≈ 60 ms for 69632×64, this form ≈ 6 ms, and
 * `tf.sum(x2, 0)` ≈ 35 ms.
 */
export function columnSums(x2: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x2, tf.ones([x2.shape[0], 1]), true, false);
}

/**
 * Per-channel sum of `x` `[..., C]` over every leading axis, via {@link columnSums}
 * (M = size / C).
 * Differentiable: the gradient broadcasts `dy` back over the leading axes.
 *
 * @param x `[..., C]`, rank ≥ 1
 * @returns `[C]`
 */
export function sumChannels(x: tf.Tensor): tf.Tensor1D {
  const c = x.shape[x.shape.length - 1] ?? 1;
  const m = x.size / c;
  const f = typedCustomGrad(([input]) => {
    if (input === undefined) throw new Error('missing input');
    const value = tf.reshape(columnSums(tf.reshape(input, [m, c]) as tf.Tensor2D), [c]);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => [tf.reshape(tf.mul(tf.ones([m, 1]), tf.reshape(dy, [1, c])), x.shape)],
    };
  });
  return f(x) as tf.Tensor1D;
}

/**
 * Global average pooling of `x` `[N, H, W, C]` to `[N, C]`, as a batched ones-vector `matMul`
 * over the H·W positions; the gradient spreads `dy / (H·W)` uniformly.
 */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const hw = h * w;
  const f = typedCustomGrad(([input]) => {
    if (input === undefined) throw new Error('missing input');
    const pooled = tf.matMul(tf.fill([n, 1, hw], 1 / hw), tf.reshape(input, [n, hw, c]));
    return {
      value: tf.reshape(pooled, [n, c]),
      gradFunc: (dy: tf.Tensor) => [
        // A two-way broadcast multiply: wasm's Tile (broadcastTo) is ≈ 200× slower here.
        tf.mul(tf.ones([1, h, w, 1]), tf.reshape(tf.mul(dy, 1 / hw), [n, 1, 1, c])),
      ],
    };
  });
  return f(x) as tf.Tensor2D;
}
