import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { ConvFilterGradDirect, convFilterGradDirectAvailable } from './conv-filter-grad.js';
import { initWasmBackend } from './wasm-backend.js';
import { onBackend, relError, seeded } from './test-support.js';

interface Case {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly inC: number;
  readonly outC: number;
  readonly k: readonly [number, number];
  readonly pad: 'same' | 'valid';
}

// Channel counts around the tile edges (4 input × 8 output channels; a last tile of 4 output channels), odd and
// even sizes, kernels taller than wide, 'valid' padding, and a batch of one.
const cases: Case[] = [
  { n: 3, h: 8, w: 8, inC: 3, outC: 8, k: [3, 3], pad: 'same' },
  { n: 2, h: 7, w: 9, inC: 8, outC: 16, k: [3, 3], pad: 'same' },
  { n: 2, h: 6, w: 5, inC: 5, outC: 12, k: [3, 3], pad: 'same' },
  { n: 1, h: 9, w: 7, inC: 2, outC: 4, k: [5, 3], pad: 'same' },
  { n: 2, h: 8, w: 6, inC: 6, outC: 20, k: [3, 3], pad: 'valid' },
  { n: 2, h: 4, w: 4, inC: 16, outC: 32, k: [5, 5], pad: 'same' },
];

const label = (c: Case): string => `${c.n}×${c.h}×${c.w}×${c.inC} → ${c.outC}, ${c.k.join('×')} ${c.pad}`;

function filterGrad(c: Case): tf.Tensor[] {
  const x = seeded([c.n, c.h, c.w, c.inC], 3) as tf.Tensor4D;
  const filter = seeded([c.k[0], c.k[1], c.inC, c.outC], 4) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, 1, c.pad);
  const dy = seeded(y.shape, 5);
  // TF.js's own Conv2D gradient: on wasm it calls Conv2DBackpropFilter, which takes the direct kernel here.
  const [dFilter] = tf.grads((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, 1, c.pad))([filter], dy);
  return [dFilter!];
}

describe('stride-1 convolution filter gradient with implicit padding (wasm)', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const c of cases) {
    it(`matches the cpu backend: ${label(c)}`, async () => {
      await tf.setBackend('wasm');
      assert.ok(convFilterGradDirectAvailable(c.inC, c.outC));
      const [ref] = await onBackend('cpu', () => filterGrad(c));
      await tf.setBackend('wasm');
      const start = tf.memory().numTensors;
      const profile = await tf.profile(() => tf.tidy(() => filterGrad(c)));
      assert.ok(
        profile.kernels.some((k) => k.name === ConvFilterGradDirect),
        profile.kernelNames.join(','),
      );
      for (const t of profile.result as tf.Tensor[]) t.dispose();
      assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
      const [got] = await onBackend('wasm', () => filterGrad(c));
      assert.ok(ref && got);
      assert.ok(relError(got, ref) <= 1e-5, `rel err ${relError(got, ref)}`);
    });
  }

  it('is not offered for output channels that are not a multiple of 4, or large channel products', async () => {
    await tf.setBackend('wasm');
    assert.equal(convFilterGradDirectAvailable(3, 6), false);
    assert.equal(convFilterGradDirectAvailable(32, 64), false);
    assert.equal(convFilterGradDirectAvailable(16, 32), true);
  });
});
