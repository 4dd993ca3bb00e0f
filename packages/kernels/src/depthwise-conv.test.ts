import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { DepthwiseConvPadded } from './depthwise-conv.js';
import { onBackend, relError, seeded } from './test-support.js';
import { initWasmBackend } from './wasm-backend.js';

const TOL = 1e-5;

interface Case {
  readonly k: number;
  readonly s: number;
  readonly pad: 'same' | 'valid';
  readonly h: number;
  readonly c: number;
  readonly mult: number;
}

const cases: Case[] = [];
for (const k of [1, 3, 5]) {
  for (const s of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      for (const [h, c] of [
        [6, 3],
        [7, 8],
      ] as const) {
        if (pad === 'valid' && k > h) continue;
        cases.push({ k, s, pad, h, c, mult: 1 });
      }
    }
  }
}
cases.push({ k: 3, s: 2, pad: 'same', h: 7, c: 3, mult: 2 });

const label = (c: Case): string => `k${c.k} s${c.s} ${c.pad} ${c.h}×${c.h + 2}×${c.c} ×${c.mult}`;

function conv(c: Case): tf.Tensor[] {
  const x = seeded([2, c.h, c.h + 2, c.c], 1) as tf.Tensor4D;
  const w = seeded([c.k, c.k, c.c, c.mult], 2) as tf.Tensor4D;
  return [tf.depthwiseConv2d(x, w, c.s, c.pad)];
}

describe('depthwise convolution forward on wasm', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const c of cases) {
    it(`matches the cpu backend: ${label(c)}`, async () => {
      const [ref] = await onBackend('cpu', () => conv(c));
      const [got] = await onBackend('wasm', () => conv(c));
      assert.ok(ref && got);
      assert.ok(relError(got, ref) <= TOL, `rel err ${relError(got, ref)}`);
    });
  }

  it('one compiled kernel per geometry serves every batch size (forward, input and filter gradients)', async () => {
    // The batch is a run-time argument of the generated kernels: batches 3, 1, 2 of one geometry in a row.
    for (const n of [3, 1, 2]) {
      const run = (): tf.Tensor[] => {
        const x = seeded([n, 7, 9, 8], 5 + n) as tf.Tensor4D;
        const w = seeded([3, 3, 8, 1], 6) as tf.Tensor4D;
        const dy = seeded([n, 4, 5, 8], 7 + n);
        const f = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor => tf.depthwiseConv2d(a, b, 2, 'same');
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([x, w], dy);
        return [f(x, w), dx!, dw!];
      };
      const ref = await onBackend('cpu', run);
      const got = await onBackend('wasm', run);
      ref.forEach((r, i) => assert.ok(relError(got[i]!, r) <= TOL, `batch ${n}, output ${i}: rel err ${relError(got[i]!, r)}`));
    }
  });

  it('accepts null attributes (as tfjs-layers passes them)', async () => {
    const run = (): tf.Tensor[] => {
      const x = seeded([2, 5, 6, 4], 1);
      const filter = seeded([3, 3, 4, 1], 2);
      const attrs = { strides: [1, 1], pad: 'same', dilations: null, dataFormat: null, dimRoundingMode: null };
      return [tf.engine().runKernel(tf.DepthwiseConv2dNative, { x, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor];
    };
    const [ref] = await onBackend('cpu', () => [tf.depthwiseConv2d(seeded([2, 5, 6, 4], 1) as tf.Tensor4D, seeded([3, 3, 4, 1], 2) as tf.Tensor4D, 1, 'same')]);
    const [got] = await onBackend('wasm', run);
    assert.ok(ref && got);
    assert.ok(relError(got, ref) <= TOL, `rel err ${relError(got, ref)}`);
  });

  it('runs the SIMD kernel for multiplier 1 and wasm’s own for multiplier 2, leaving no tensors', async () => {
    await tf.setBackend('wasm');
    const one = cases.find((c) => c.c === 8 && c.s === 2);
    const two = cases.find((c) => c.mult === 2);
    assert.ok(one && two);
    const a = await tf.profile(() => tf.dispose(tf.tidy(() => conv(one))));
    assert.ok(a.kernelNames.includes(DepthwiseConvPadded), a.kernelNames.join(', '));
    const b = await tf.profile(() => tf.dispose(tf.tidy(() => conv(two))));
    assert.ok(!b.kernelNames.includes(DepthwiseConvPadded), b.kernelNames.join(', '));
    const before = tf.memory().numTensors;
    const outs = tf.tidy(() => [...conv(one), ...conv(two)]);
    assert.equal(tf.memory().numTensors, before + 2);
    tf.dispose(outs);
    assert.equal(tf.memory().numTensors, before);
  });
});
