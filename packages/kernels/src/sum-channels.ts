import * as tf from '@tensorflow/tfjs-core';

import { typedCustomGrad } from './typed-custom-grad.js';

/**
 * `[1, C]` column means of a `[M, C]` matrix, as one average pool with an `M × 1` window over the
 * matrix viewed as `[1, M, 1, C]` (XNNPACK's pooling reads the data once, in layout order). On wasm
 * for 65536×64 this takes ≈ 1 ms; a ones-vector `matMul` with `transposeA` ≈ 6 ms, `ones · x` ≈ 30–60
 * ms (the right operand is re-packed on every call), `tf.sum(x, 0)` ≈ 28 ms (a transpose first).
 */
export function columnMeans(x2: tf.Tensor2D): tf.Tensor2D {
  const [m, c] = x2.shape;
  const pooled = tf.avgPool(tf.reshape(x2, [1, m, 1, c]) as tf.Tensor4D, [m, 1], [m, 1], 'valid');
  return tf.reshape(pooled, [1, c]);
}

/** `[1, C]` column sums of a `[M, C]` matrix: {@link columnMeans} times M (zeros for M = 0: no window of 0 rows). */
export function columnSums(x2: tf.Tensor2D): tf.Tensor2D {
  if (x2.shape[0] === 0) return tf.zeros([1, x2.shape[1]]);
  return tf.mul(columnMeans(x2), x2.shape[0]);
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
 * Global average pooling of `x` `[N, H, W, C]` to `[N, C]` (one `avgPool` with an H×W window);
 * the gradient spreads `dy / (H·W)` uniformly with one broadcast multiply.
 */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const hw = h * w;
  const f = typedCustomGrad(([input]) => {
    if (input === undefined) throw new Error('missing input');
    const pooled = tf.avgPool(input as tf.Tensor4D, [h, w], [h, w], 'valid');
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
