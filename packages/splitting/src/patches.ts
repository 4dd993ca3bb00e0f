import type { Conv2dNode } from '@mitosis/core';
import { outputLength, padBefore } from '@mitosis/ir';
import { tf } from './tf.js';

/**
 * Convolution helpers for the splitting matrices: im2col patches in the θ layout and the filter gradient.
 */

/**
 * The filter gradient Σ_{n,p} x_{n,p} ⊗ dy_{n,p} of a conv2d (`[kh, kw, in, out]`), computed by the gradient that is
 * registered for `Conv2D` on the active backend (on wasm, the fast one installed by `@mitosis/kernels`).
 * `x` `[n, h, w, in]`, `dy` `[n, h', w', out]`.
 */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernelShape: readonly number[],
  node: Pick<Conv2dNode, 'strides' | 'padding'>,
): tf.Tensor {
  const config = tf.getGradient('Conv2D');
  if (config === undefined) {
    throw new Error('No gradient is registered for Conv2D (import @mitosis/engine, which registers them)');
  }
  const attrs = { strides: [...node.strides], pad: node.padding, dataFormat: 'NHWC', dilations: [1, 1] };
  // The filter gradient reads only the filter's shape.
  const shapeOnly: tf.Tensor = tf.zeros([...kernelShape]);
  const grads = config.gradFunc(dy, [x, shapeOnly], attrs as unknown as tf.NamedAttrMap) as Record<string, () => tf.Tensor>;
  const out = grads['filter']!();
  shapeOnly.dispose();
  return out;
}

/**
 * im2col: the patches x̃_{n,p} of a conv2d's input as rows `[n·h'·w', kh·kw·in]`, columns in the row-major order of
 * the kernel without its output axis (the θ layout of growth-plan.ts). TF padding conventions (`same` pads the
 * extra pixel at the bottom/right).
 */
export function extractPatches(
  x: tf.Tensor4D,
  kernelShape: readonly number[],
  node: Pick<Conv2dNode, 'strides' | 'padding'>,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const kh = kernelShape[0]!;
    const kw = kernelShape[1]!;
    const [sh, sw] = node.strides;
    const oh = outputLength(h, kh, sh, node.padding);
    const ow = outputLength(w, kw, sw, node.padding);
    const top = padBefore(h, kh, sh, node.padding);
    const left = padBefore(w, kw, sw, node.padding);
    const needH = (oh - 1) * sh + kh;
    const needW = (ow - 1) * sw + kw;
    const padded = tf.pad(x, [
      [0, 0],
      [top, Math.max(0, needH - h - top)],
      [left, Math.max(0, needW - w - left)],
      [0, 0],
    ]);
    const cols: tf.Tensor[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const spanH = (oh - 1) * sh + 1;
        const spanW = (ow - 1) * sw + 1;
        cols.push(
          sh === 1 && sw === 1
            ? tf.slice(padded, [0, a, b, 0], [n, oh, ow, c])
            : tf.stridedSlice(padded, [0, a, b, 0], [n, a + spanH, b + spanW, c], [1, sh, sw, 1]),
        );
      }
    }
    return tf.reshape(tf.stack(cols, 3), [n * oh * ow, kh * kw * c]) as tf.Tensor2D;
  });
}

/** Σ over every axis but the last (channels): `[..., c]` → `[c]`, as a matMul with ones (fast on wasm). */
export function sumToChannels(t: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const c = t.shape[t.rank - 1]!;
    const flat = tf.reshape(t, [-1, c]);
    return tf.reshape(tf.matMul(tf.ones([1, flat.shape[0]!]), flat), [c]) as tf.Tensor1D;
  });
}
