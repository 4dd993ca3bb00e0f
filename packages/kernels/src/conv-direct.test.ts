import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { ConvDirect, convDirect, convDirectAvailable, ConvFilterGradDirect, convFilterGradDirectAvailable } from './conv-direct.js';
import { initWasmBackend } from './wasm-backend.js';
import { onBackend, relError, seeded } from './test-support.js';

interface Case {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly inC: number;
  readonly outC: number;
  readonly k: readonly [number, number];
  readonly pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}

// Unrolled (≤ 3) and looped input channels, a last output tile of 4 channels, widths that leave 1–3 columns
// after the 4-pixel tiles (and widths below 4), 5×3 and 5×5 kernels, 'valid' and asymmetric explicit padding (as
// the input gradient uses), batches of one and three.
const cases: Case[] = [
  { n: 3, h: 8, w: 8, inC: 1, outC: 32, k: [3, 3], pad: 'same' },
  { n: 2, h: 7, w: 9, inC: 3, outC: 8, k: [3, 3], pad: 'same' },
  { n: 2, h: 6, w: 5, inC: 8, outC: 16, k: [3, 3], pad: 'same' },
  { n: 1, h: 9, w: 3, inC: 16, outC: 12, k: [5, 3], pad: 'same' },
  { n: 2, h: 8, w: 7, inC: 5, outC: 20, k: [3, 3], pad: 'valid' },
  { n: 2, h: 6, w: 6, inC: 4, outC: 4, k: [5, 5], pad: 'same' },
  { n: 2, h: 5, w: 6, inC: 6, outC: 8, k: [3, 3], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { n: 2, h: 7, w: 7, inC: 22, outC: 12, k: [3, 3], pad: 'same' },
];

// Channel counts around the tile edges (4 input × 8 output channels; a last tile of 4 output channels), odd and
// even sizes, kernels taller than wide, 'valid' padding, and a batch of one.
const gradCases: Case[] = [
  // Cout not a multiple of 4 (grown widths): sums into rows rounded up to 4 wide, then compacted.
  { n: 2, h: 7, w: 7, inC: 4, outC: 22, k: [3, 3], pad: 'same' },
  { n: 3, h: 6, w: 9, inC: 1, outC: 5, k: [3, 3], pad: 'valid' },
  { n: 1, h: 5, w: 5, inC: 3, outC: 6, k: [3, 3], pad: 'same' },
  { n: 3, h: 8, w: 8, inC: 3, outC: 8, k: [3, 3], pad: 'same' },
  { n: 2, h: 7, w: 9, inC: 8, outC: 16, k: [3, 3], pad: 'same' },
  { n: 2, h: 6, w: 5, inC: 5, outC: 12, k: [3, 3], pad: 'same' },
  { n: 1, h: 9, w: 7, inC: 2, outC: 4, k: [5, 3], pad: 'same' },
  { n: 2, h: 8, w: 6, inC: 6, outC: 20, k: [3, 3], pad: 'valid' },
  { n: 2, h: 4, w: 4, inC: 4, outC: 32, k: [5, 5], pad: 'same' },
];

const label = (c: Case): string => `${c.n}×${c.h}×${c.w}×${c.inC} → ${c.outC}, ${c.k.join('×')} ${typeof c.pad === 'string' ? c.pad : JSON.stringify(c.pad.slice(1, 3))}`;

function conv(c: Case): tf.Tensor[] {
  const x = seeded([c.n, c.h, c.w, c.inC], 7) as tf.Tensor4D;
  const filter = seeded([c.k[0], c.k[1], c.inC, c.outC], 8) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, 1, c.pad);
  // The gradients too: on wasm the input gradient is a stride-1 convolution of dy, routed here as well.
  const [dx, dFilter] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, c.pad))([x, filter], seeded(y.shape, 9));
  return [y, dx!, dFilter!];
}

function filterGrad(c: Case): tf.Tensor[] {
  const x = seeded([c.n, c.h, c.w, c.inC], 3) as tf.Tensor4D;
  const filter = seeded([c.k[0], c.k[1], c.inC, c.outC], 4) as tf.Tensor4D;
  const y = tf.conv2d(x, filter, 1, c.pad);
  const dy = seeded(y.shape, 5);
  // TF.js's own Conv2D gradient: on wasm it calls Conv2DBackpropFilter, which takes the direct kernel here.
  const [dFilter] = tf.grads((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, 1, c.pad))([filter], dy);
  return [dFilter!];
}

/** The kernel itself, called directly (whatever Conv2D would route), for the case's forward convolution. */
function direct(c: Case): tf.Tensor[] {
  const x = seeded([c.n, c.h, c.w, c.inC], 7) as tf.Tensor4D;
  const filter = seeded([c.k[0], c.k[1], c.inC, c.outC], 8) as tf.Tensor4D;
  const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, 1, 1, c.pad);
  return [convDirect(x, filter, info.outHeight, info.outWidth, info.padInfo.top, info.padInfo.left)];
}

before(async () => {
  await initWasmBackend();
});

describe('stride-1 convolution with implicit padding (wasm)', () => {
  for (const c of cases) {
    it(`matches the cpu backend: ${label(c)}`, async () => {
      const [ref] = await onBackend('cpu', () => conv(c).slice(0, 1));
      await tf.setBackend('wasm');
      assert.ok(convDirectAvailable(c.inC, c.outC));
      const [got] = await onBackend('wasm', () => direct(c));
      assert.ok(relError(got!, ref!) <= 1e-5, `rel err ${relError(got!, ref!)}`);
    });

    const routed = c.inC === 1 || c.outC < c.inC;
    it(`Conv2D on wasm ${routed ? 'runs it' : 'keeps wasm\'s own'} (1 input channel, or fewer outputs than inputs), with the cpu backend's values and gradients: ${label(c)}`, async () => {
      const ref = await onBackend('cpu', () => conv(c));
      await tf.setBackend('wasm');
      const start = tf.memory().numTensors;
      const profile = await tf.profile(() => tf.tidy(() => conv(c)));
      const forward = profile.kernels.some((k) => k.name === ConvDirect && k.inputShapes[0]!.join() === [c.n, c.h, c.w, c.inC].join());
      assert.equal(forward, routed, profile.kernelNames.join(','));
      for (const t of profile.result as tf.Tensor[]) t.dispose();
      assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
      const got = await onBackend('wasm', () => conv(c));
      ref.forEach((r, i) => assert.ok(relError(got[i]!, r) <= 1e-5, `output ${i}: rel err ${relError(got[i]!, r)}`));
    });
  }

  it('is offered for Cout a multiple of 4 up to 64, Cin·Cout ≤ 1024 and filters up to 5×5 only', async () => {
    await tf.setBackend('wasm');
    assert.equal(convDirectAvailable(3, 8), true);
    assert.equal(convDirectAvailable(24, 12), true);
    assert.equal(convDirectAvailable(3, 6), false);
    assert.equal(convDirectAvailable(1, 128), false);
    assert.equal(convDirectAvailable(64, 32), false);
    assert.equal(convDirectAvailable(3, 8, 5, 5), true);
    assert.equal(convDirectAvailable(3, 8, 7, 7), false);
  });
});

describe('stride-1 convolution filter gradient with implicit padding (wasm)', () => {
  for (const c of gradCases) {
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

  it('gives a zero filter gradient for a batch of 0', async () => {
    await tf.setBackend('wasm');
    const [dw] = tf.tidy(() => {
      const x = tf.zeros([0, 6, 6, 3]) as tf.Tensor4D;
      return tf.grads((w: tf.Tensor) => tf.conv2d(x, w as tf.Tensor4D, 1, 'same'))([seeded([3, 3, 3, 8], 1)], tf.zeros([0, 6, 6, 8]));
    });
    assert.deepEqual(Array.from(dw!.dataSync()), new Array<number>(3 * 3 * 3 * 8).fill(0));
    dw!.dispose();
  });

  it('is offered for Cout ≥ 4, Cin·Cout ≤ 128 (Cout rounded up to 4) and filters up to 5×5 only', async () => {
    await tf.setBackend('wasm');
    assert.equal(convFilterGradDirectAvailable(3, 6), true);
    assert.equal(convFilterGradDirectAvailable(3, 3), false);
    assert.equal(convFilterGradDirectAvailable(8, 16), true);
    assert.equal(convFilterGradDirectAvailable(12, 22), false);
    assert.equal(convFilterGradDirectAvailable(4, 30), true);
    assert.equal(convFilterGradDirectAvailable(4, 8, 5, 3), true);
    assert.equal(convFilterGradDirectAvailable(4, 8, 3, 7), false);
  });
});
