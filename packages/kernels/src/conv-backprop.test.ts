import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { convBackpropFilter, convBackpropInput, transpose2d, type ConvPad } from './conv-backprop.js';
import { ConvFilterGradDirect } from './conv-direct.js';
import { DepthwiseInputGradPhases } from './depthwise-conv.js';
import { DepthwiseFilterGradPartials } from './depthwise-filter-grad.js';
import { TransposedProduct } from './pointwise-filter-grad.js';
import { SlidingRows } from './sliding-rows.js';
import { initWasmBackend } from './wasm-backend.js';
import { onBackend, relError, seeded } from './test-support.js';

const TOL = 1e-4;

interface Case {
  readonly k: number;
  readonly s: number;
  readonly pad: 'same' | 'valid';
  readonly h: number;
  readonly depthwise: boolean;
  readonly mult: number;
  readonly inC?: number;
  readonly outC?: number;
}

const cases: Case[] = [];
for (const depthwise of [false, true]) {
  for (const k of [1, 3, 5]) {
    for (const s of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        for (const h of [6, 7]) {
          if (pad === 'valid' && k > h) continue;
          cases.push({ k, s, pad, h, depthwise, mult: 1 });
        }
      }
    }
  }
}
cases.push({ k: 3, s: 2, pad: 'same', h: 7, depthwise: true, mult: 2 });
// More than 4 input channels: the general (polyphase) filter-gradient path at stride 1.
cases.push({ k: 3, s: 1, pad: 'same', h: 6, depthwise: false, mult: 1, inC: 6 });
cases.push({ k: 5, s: 1, pad: 'valid', h: 7, depthwise: false, mult: 1, inC: 6 });
cases.push({ k: 3, s: 2, pad: 'valid', h: 7, depthwise: false, mult: 1, inC: 6 });
// kh·kw·inC > 256: one product per tap instead of one stacked product.
cases.push({ k: 5, s: 2, pad: 'same', h: 7, depthwise: false, mult: 1, inC: 12 });
cases.push({ k: 3, s: 1, pad: 'valid', h: 6, depthwise: true, mult: 2 });
// Pointwise with Ci % 4 = 0 and Co % 8 = 0: the SIMD xᵀ·dy kernel (several row blocks at h = 40).
cases.push({ k: 1, s: 1, pad: 'same', h: 6, depthwise: false, mult: 1, inC: 8, outC: 16 });
cases.push({ k: 1, s: 1, pad: 'valid', h: 40, depthwise: false, mult: 1, inC: 12, outC: 8 });
// Depthwise with channels a multiple of 4 (no channel padding in the SIMD kernel) and with a tail.
cases.push({ k: 3, s: 1, pad: 'same', h: 9, depthwise: true, mult: 1, inC: 8 });
cases.push({ k: 3, s: 2, pad: 'same', h: 9, depthwise: true, mult: 1, inC: 12 });
cases.push({ k: 5, s: 2, pad: 'valid', h: 9, depthwise: true, mult: 1, inC: 6 });
// Strided depthwise input gradients by output phases (C % 4 = 0), including phases with no taps (k 1).
cases.push({ k: 5, s: 2, pad: 'valid', h: 9, depthwise: true, mult: 1, inC: 8 });
cases.push({ k: 1, s: 2, pad: 'same', h: 7, depthwise: true, mult: 1, inC: 4 });
cases.push({ k: 3, s: 2, pad: 'valid', h: 8, depthwise: true, mult: 1, inC: 4 });
cases.push({ k: 5, s: 2, pad: 'same', h: 8, depthwise: true, mult: 1, inC: 4 });
// Stride 1, Cout ≥ 4 and Cin·Cout ≤ 128: the direct kernel with implicit padding (conv-direct.ts).
cases.push({ k: 3, s: 1, pad: 'same', h: 6, depthwise: false, mult: 1, inC: 8, outC: 16 });
cases.push({ k: 3, s: 1, pad: 'valid', h: 7, depthwise: false, mult: 1, inC: 4, outC: 8 });
// Larger channel SIMD multiples (4 in, 8 out) at stride 1: one product straight in the filter's layout.
cases.push({ k: 3, s: 1, pad: 'same', h: 6, depthwise: false, mult: 1, inC: 16, outC: 40 });
// One input channel at stride 1 (grey images): the direct kernel, or with fewer than 4 output channels the
// sliding-rows filter gradient (kernel width ≤ 4).
cases.push({ k: 3, s: 1, pad: 'same', h: 9, depthwise: false, mult: 1, inC: 1, outC: 8 });
cases.push({ k: 3, s: 1, pad: 'same', h: 9, depthwise: false, mult: 1, inC: 1, outC: 3 });
cases.push({ k: 3, s: 1, pad: 'valid', h: 7, depthwise: false, mult: 1, inC: 1, outC: 5 });
cases.push({ k: 1, s: 1, pad: 'same', h: 6, depthwise: false, mult: 1, inC: 1, outC: 8 });
cases.push({ k: 5, s: 1, pad: 'same', h: 7, depthwise: false, mult: 1, inC: 1, outC: 8 });

const label = (c: Case): string =>
  `${c.depthwise ? `depthwise×${c.mult}` : 'conv'} k${c.k} s${c.s} ${c.pad} ${c.h}×${c.h + 1} inC ${c.inC ?? 3}` +
  (c.outC === undefined ? '' : ` outC ${c.outC}`);

/** Loss Σ conv(x, w) · r, so that dL/dy = r. Returns [dx, dw] by TF.js autodiff. */
function grads(c: Case, useKernels: boolean): tf.Tensor[] {
  const inC = c.inC ?? 3;
  const outC = c.depthwise ? inC * c.mult : (c.outC ?? 4);
  const x = seeded([2, c.h, c.h + 1, inC], 1) as tf.Tensor4D;
  const w = seeded([c.k, c.k, inC, c.depthwise ? c.mult : outC], 2) as tf.Tensor4D;
  const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D =>
    c.depthwise ? tf.depthwiseConv2d(a, b, c.s, c.pad) : tf.conv2d(a, b, c.s, c.pad);
  const y = conv(x, w);
  const r = seeded(y.shape, 3) as tf.Tensor4D;
  if (!useKernels) {
    // Our tensor-level functions, called directly.
    return [
      convBackpropInput(r, w, x.shape, c.s, c.pad as ConvPad, undefined, c.depthwise),
      convBackpropFilter(x, r, w.shape, c.s, c.pad as ConvPad, undefined, c.depthwise),
    ];
  }
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r)),
  );
  return g([x, w]);
}

describe('convolution gradients', () => {
  before(async () => {
    await initWasmBackend();
  });

  for (const c of cases) {
    it(`match the cpu backend's own gradients: ${label(c)}`, async () => {
      const [refDx, refDw] = await onBackend('cpu', () => grads(c, true));
      const [cpuDx, cpuDw] = await onBackend('cpu', () => grads(c, false));
      const [wasmDx, wasmDw] = await onBackend('wasm', () => grads(c, true));
      assert.ok(refDx && refDw && cpuDx && cpuDw && wasmDx && wasmDw);
      assert.ok(relError(cpuDx, refDx) <= TOL, `cpu dx rel err ${relError(cpuDx, refDx)}`);
      assert.ok(relError(cpuDw, refDw) <= TOL, `cpu dw rel err ${relError(cpuDw, refDw)}`);
      assert.ok(relError(wasmDx, refDx) <= TOL, `wasm dx rel err ${relError(wasmDx, refDx)}`);
      assert.ok(relError(wasmDw, refDw) <= TOL, `wasm dw rel err ${relError(wasmDw, refDw)}`);
    });
  }

  it('transpose2d equals tf.transpose, blocked (L = 2048, 4096) and plain (L = 100)', async () => {
    await tf.setBackend('wasm');
    for (const [l, c] of [
      [2048, 3],
      [4096, 40],
      [100, 7],
    ] as const) {
      tf.tidy(() => {
        const x = seeded([l, c], 9) as tf.Tensor2D;
        const got = transpose2d(x);
        assert.deepEqual(got.shape, [c, l]);
        assert.equal(relError(got.dataSync(), tf.transpose(x).dataSync()), 0);
      });
    }
  });

  it('depthwise filter gradients (multiplier 1) run the SIMD kernel on wasm', async () => {
    await tf.setBackend('wasm');
    const c = cases.find((k) => k.depthwise && k.mult === 1 && k.inC === 8);
    assert.ok(c);
    const info = await tf.profile(() => tf.dispose(grads(c, true)));
    assert.ok(info.kernelNames.includes(DepthwiseFilterGradPartials), info.kernelNames.join(', '));
  });

  it('strided depthwise input gradients (C % 4 = 0) run by output phases on wasm', async () => {
    await tf.setBackend('wasm');
    for (const c of cases.filter((k) => k.depthwise && k.mult === 1 && k.s === 2 && (k.inC ?? 3) % 4 === 0)) {
      const info = await tf.profile(() => tf.dispose(grads(c, true)));
      assert.ok(info.kernelNames.includes(DepthwiseInputGradPhases), `${label(c)}: ${info.kernelNames.join(', ')}`);
    }
  });

  it('pointwise (Ci % 4 = 0, Co % 8 = 0) and full 3×3 filter gradients run the SIMD xᵀ·dy kernel on wasm', async () => {
    await tf.setBackend('wasm');
    for (const c of [
      cases.find((k) => !k.depthwise && k.outC === 16),
      cases.find((k) => !k.depthwise && k.k === 3 && k.s === 2),
    ]) {
      assert.ok(c);
      const info = await tf.profile(() => tf.dispose(grads(c, true)));
      assert.ok(info.kernelNames.includes(TransposedProduct), `${label(c)}: ${info.kernelNames.join(', ')}`);
    }
  });

  it('stride-1 filter gradients with Cout ≥ 4 and few channels run the direct kernel on wasm; larger ones one SIMD product', async () => {
    await tf.setBackend('wasm');
    for (const c of cases.filter((k) => !k.depthwise && k.s === 1 && k.k > 1 && (k.outC ?? 4) >= 4)) {
      const info = await tf.profile(() => tf.dispose(grads(c, true)));
      const direct = (c.inC ?? 3) * Math.ceil((c.outC ?? 4) / 4) * 4 <= 128;
      assert.equal(info.kernelNames.includes(ConvFilterGradDirect), direct, `${label(c)}: ${info.kernelNames.join(', ')}`);
      if (!direct) assert.ok(info.kernelNames.includes(TransposedProduct), `${label(c)}: ${info.kernelNames.join(', ')}`);
    }
  });

  it('single-channel 3×3 filter gradients with fewer than 4 output channels use sliding rows (3 products of 4 channels) on wasm', async () => {
    await tf.setBackend('wasm');
    const c = cases.find((k) => k.inC === 1 && k.k === 3 && k.pad === 'same' && k.outC === 3);
    assert.ok(c);
    const info = await tf.profile(() => tf.dispose(grads(c, true)));
    assert.ok(info.kernelNames.includes(SlidingRows), info.kernelNames.join(', '));
    const product = info.kernels.find((k) => k.name === TransposedProduct);
    assert.deepEqual(product?.outputShapes[0], [12, 8]);
  });

  it('leave no tensors behind on wasm', async () => {
    await tf.setBackend('wasm');
    for (const c of [cases[0], cases[cases.length - 1], cases.find((k) => k.depthwise && k.inC === 12), cases.find((k) => k.outC === 8), cases.find((k) => k.inC === 1)]) {
      assert.ok(c);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => grads(c, true));
      assert.equal(tf.memory().numTensors, before + 2);
      tf.dispose(out);
      assert.equal(tf.memory().numTensors, before);
    }
  });

  it('take an empty batch or empty images on wasm: empty outputs and input gradients, zero filter gradients', async () => {
    await tf.setBackend('wasm');
    // One case per path: depthwise (stride 1 and 2), Winograd, direct (one input channel; narrowing), pointwise
    // (wasm's matMul with an inner size of 0 returned uninitialised memory), strided and 3-channel convolutions.
    const shapes: [string, number[], number[], number, boolean][] = [
      ['depthwise s1', [0, 8, 8, 16], [3, 3, 16, 1], 1, true],
      ['depthwise s2', [0, 8, 8, 12], [3, 3, 12, 1], 2, true],
      ['winograd', [0, 8, 8, 16], [3, 3, 16, 32], 1, false],
      ['direct 1 → 8', [0, 8, 8, 1], [3, 3, 1, 8], 1, false],
      ['direct 16 → 8', [0, 8, 8, 16], [3, 3, 16, 8], 1, false],
      ['pointwise', [0, 8, 8, 16], [1, 1, 16, 32], 1, false],
      ['strided', [0, 8, 8, 8], [3, 3, 8, 16], 2, false],
      ['3 → 8', [0, 8, 8, 3], [3, 3, 3, 8], 1, false],
      // Images without columns or rows (the Winograd tile loops must not run on them).
      ['no columns', [1, 4, 0, 16], [3, 3, 16, 32], 1, false],
      ['no rows', [2, 0, 4, 16], [3, 3, 16, 32], 1, false],
    ];
    for (const [name, xs, fs, s, depthwise] of shapes) {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const op = (a: tf.Tensor, b: tf.Tensor): tf.Tensor4D =>
          depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same') : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same');
        const x = tf.zeros(xs);
        const f = seeded(fs, 1);
        const y = op(x, f);
        assert.equal(y.size, 0, name);
        const [dx, df] = tf.grads(op)([x, f], tf.zerosLike(y));
        assert.deepEqual(dx!.shape, xs, name);
        assert.deepEqual(df!.shape, fs, name);
        assert.ok(df!.dataSync().every((v) => v === 0), `${name}: filter gradient ${df!.dataSync().slice(0, 4).join(', ')}`);
      });
      assert.equal(tf.memory().numTensors, before, name);
    }
  });
});
