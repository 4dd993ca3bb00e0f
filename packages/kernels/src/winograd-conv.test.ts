import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { WinogradConv2D, WinogradConv2DFilterGrad, winogradConv2dApplies } from './winograd-conv.js';
import { relError, seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

/** The direct convolution: `valid` on an explicitly padded input (a padding the Winograd path does not take). */
function direct(x: tf.Tensor4D, f: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]) as tf.Tensor4D, f, 1, 'valid'));
}

describe('Winograd F(2×2, 3×3) convolution on wasm', () => {
  before(async () => {
    await initWasmBackend();
  });

  const shapes: [number[], number[]][] = [
    [[2, 14, 14, 32], [3, 3, 32, 64]],
    [[3, 8, 6, 16], [3, 3, 16, 32]],
    // 9 tiles: the products run on 12 rows, the last 3 never read back.
    [[1, 6, 6, 32], [3, 3, 32, 16]],
    [[2, 4, 10, 64], [3, 3, 64, 8]],
    // Chunks of tile rows (≈ 1 MiB of planes): here 5 rows of 32 tiles, so chunks end inside images and span two
    // (the padded rows are gathered image by image); the filter gradient sums over 32 chunks.
    [[5, 64, 64, 32], [3, 3, 32, 64]],
    // 17 tile rows of 15 tiles a chunk (255 tiles: the products run on 256 rows), the first ending in the second
    // image; 105 tile rows, so the last chunk has 3 (45 tiles, 48 rows).
    [[7, 30, 30, 16], [3, 3, 16, 48]],
    // Widths a pruned or grown network has: 23 → 62 (both not multiples of 4 and 8; the input gradient 62 → 23 too),
    // in chunks of 12 tile rows of 15 tiles; 18 → 30 (its input gradient, 30 → 18, would waste too many products).
    [[3, 30, 30, 23], [3, 3, 23, 62]],
    [[3, 8, 6, 18], [3, 3, 18, 30]],
    // Few channels: 7 → 15 (one group of 4 and an overlapping one; 15 filters as 16), 4 → 16 on 2×2 images.
    [[2, 6, 6, 7], [3, 3, 7, 15]],
    [[3, 2, 2, 4], [3, 3, 4, 16]],
  ];
  for (const [xs, fs] of shapes) {
    it(`conv2d 'same' [${xs.join(',')}] * [${fs.join(',')}] equals the direct convolution (values and gradients)`, async () => {
      assert.ok(winogradConv2dApplies(xs, fs));
      const start = tf.memory().numTensors;
      const x = tf.tidy(() => tf.mul(seeded(xs, 1), 2)) as tf.Tensor4D;
      const f = seeded(fs, 2) as tf.Tensor4D;
      const r = seeded([...xs.slice(0, 3), fs[3]!], 3);
      const info = await tf.profile(() => tf.tidy(() => void tf.conv2d(x, f, 1, 'same')));
      assert.ok(info.kernelNames.includes(WinogradConv2D), info.kernelNames.join(','));
      const y = tf.conv2d(x, f, 1, 'same');
      const want = direct(x, f);
      assert.ok(relError(y.dataSync(), want.dataSync()) < 1e-5, `value: ${relError(y.dataSync(), want.dataSync())}`);
      // Gradients: the input's is a stride-1 'same' convolution with the rotated filter (Winograd again when its
      // channels allow), the filter's is not.
      const loss = (conv: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r));
      const [dx, df] = tf.grads(loss((a, b) => tf.conv2d(a, b, 1, 'same')))([x, f]);
      const backward = await tf.profile(() => tf.tidy(() => void tf.grads(loss((a, b) => tf.conv2d(a, b, 1, 'same')))([x, f])));
      assert.ok(backward.kernelNames.includes(WinogradConv2DFilterGrad), backward.kernelNames.join(','));
      // The input gradient reads the filter rotated itself (no Reverse).
      if (winogradConv2dApplies(xs.slice(0, 3).concat(fs[3]!), [3, 3, fs[3]!, fs[2]!])) assert.ok(!backward.kernelNames.includes('Reverse'), backward.kernelNames.join(','));
      const [dxWant, dfWant] = tf.grads(loss(direct))([x, f]);
      assert.ok(relError(dx!.dataSync(), dxWant!.dataSync()) < 1e-5, `dx: ${relError(dx!.dataSync(), dxWant!.dataSync())}`);
      // The filter gradient sums over every position of the batch: float32 rounding (of either method) grows with
      // the square root of that count.
      const sumTol = 1e-5 * Math.max(1, Math.sqrt((xs[0]! * xs[1]! * xs[2]!) / 400));
      assert.ok(relError(df!.dataSync(), dfWant!.dataSync()) < sumTol, `dfilter: ${relError(df!.dataSync(), dfWant!.dataSync())}`);
      tf.dispose([x, f, r, y, want, dx!, df!, dxWant!, dfWant!]);
      assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
    });
  }

  it('leaves other convolutions to the direct kernels', () => {
    assert.equal(winogradConv2dApplies([1, 7, 8, 32], [3, 3, 32, 64]), false, 'odd height');
    assert.equal(winogradConv2dApplies([1, 4, 0, 32], [3, 3, 32, 64]), false, 'no columns');
    assert.equal(winogradConv2dApplies([1, 8, 8, 3], [3, 3, 3, 64]), false, 'fewer than 4 input channels');
    assert.equal(winogradConv2dApplies([1, 8, 8, 4], [3, 3, 4, 8]), false, 'C·K < 64');
    assert.equal(winogradConv2dApplies([1, 8, 8, 8], [3, 3, 8, 8]), true, '8 → 8');
    assert.equal(winogradConv2dApplies([1, 8, 8, 32], [3, 3, 32, 17]), false, '17 filters run as 24: a third of the products wasted');
    assert.equal(winogradConv2dApplies([1, 8, 8, 30], [3, 3, 30, 18]), false, '30 → 18 runs as 32 → 24: 0.70 of the products used');
    assert.equal(winogradConv2dApplies([1, 8, 8, 23], [3, 3, 23, 62]), true, '23 → 62 runs as 24 → 64');
    assert.equal(winogradConv2dApplies([1, 8, 8, 32], [5, 5, 32, 64]), false, '5×5');
  });
});
