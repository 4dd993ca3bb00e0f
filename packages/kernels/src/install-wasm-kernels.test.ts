import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import {
  installWasmKernels,
  uninstallWasmKernels,
  wasmKernelNames,
  wasmKernelsInstalled,
} from './install-wasm-kernels.js';
import { relError, seeded } from './test-support.js';
import { initWasmBackend, wasmBinaryDirectory } from './wasm-backend.js';

describe('installWasmKernels', () => {
  before(async () => {
    await initWasmBackend();
  });
  after(() => {
    installWasmKernels();
  });

  it('registers every kernel once; a second call changes nothing and warns nothing', () => {
    installWasmKernels();
    const first = wasmKernelNames.map((n) => tf.getKernel(n, 'wasm'));
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      installWasmKernels();
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(warnings, []);
    assert.ok(wasmKernelsInstalled());
    wasmKernelNames.forEach((n, i) => assert.equal(tf.getKernel(n, 'wasm'), first[i]));
  });

  it('uninstall restores wasm’s own kernels and removes the missing ones', () => {
    const ownInput = () => tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
    uninstallWasmKernels();
    assert.equal(wasmKernelsInstalled(), false);
    assert.notEqual(ownInput(), undefined);
    assert.equal(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'), undefined);
    installWasmKernels();
    assert.ok(wasmKernelsInstalled());
  });

  it('leaves the cpu backend’s kernels and the gradient registry alone', () => {
    for (const n of wasmKernelNames) assert.notEqual(tf.getKernel(n, 'cpu'), undefined);
    assert.equal(tf.getGradient(tf.Conv2D)?.kernelName, tf.Conv2D);
  });

  it('Slice copies strided and contiguous regions exactly like the cpu backend', async () => {
    const cases: [number[], number[], number[]][] = [
      [[40], [3], [30]],
      [[5, 6, 7], [1, 0, 0], [3, 6, 7]],
      [[5, 6, 7], [1, 2, 3], [3, 3, 4]],
      [[2, 3, 4, 5], [0, 1, 0, 2], [2, 2, 4, 3]],
      [[2, 3, 2, 3, 2], [1, 0, 1, 1, 0], [1, 3, 1, 2, 2]],
    ];
    for (const [shape, begin, size] of cases) {
      const values = seeded(shape, 3);
      const flat = values.dataSync();
      values.dispose();
      const run = async (backend: string): Promise<Float32Array> => {
        await tf.setBackend(backend);
        const t = tf.tensor(flat, shape);
        const s = tf.slice(t, begin, size);
        const out = s.dataSync() as Float32Array;
        tf.dispose([t, s]);
        return out;
      };
      const want = await run('cpu');
      const got = await run('wasm');
      assert.equal(relError(got, want), 0, `slice ${JSON.stringify([shape, begin, size])}`);
    }
  });

  it('StridedSlice gathers like the cpu backend (strides 1/2/3, negative stride)', async () => {
    const shape = [2, 7, 6, 3];
    const values = seeded(shape, 4);
    const flat = values.dataSync();
    values.dispose();
    const cases: [number[], number[], number[], number, number, number][] = [
      [[0, 1, 0, 0], [2, 7, 6, 3], [1, 2, 2, 1], 0, 0, 0],
      [[0, 0, 1, 0], [2, 7, 6, 3], [1, 3, 2, 1], 0, 0, 0],
      [[0, 6, 0, 0], [2, 0, 6, 3], [1, -2, 1, 1], 0, 0, 0],
      [[0, 1, 1, 0], [2, 7, 6, 3], [1, 2, 2, 1], 0, 0, 0],
      [[0, 0, 0, 0], [2, 7, 6, 3], [1, 1, 1, 1], 0, 0, 0],
    ];
    for (const [begin, end, strides, beginMask, endMask, shrink] of cases) {
      const run = async (backend: string): Promise<Float32Array> => {
        await tf.setBackend(backend);
        const t = tf.tensor(flat, shape);
        const s = tf.stridedSlice(t, begin, end, strides, beginMask, endMask, 0, 0, shrink);
        const out = s.dataSync() as Float32Array;
        tf.dispose([t, s]);
        return out;
      };
      const want = await run('cpu');
      const got = await run('wasm');
      assert.equal(relError(got, want), 0, `stridedSlice ${JSON.stringify([begin, end, strides])}`);
    }
  });

  it('StridedSlice with an inner stride keeps every second channel', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.reshape(tf.range(0, 2 * 3 * 3, 1, 'float32'), [2, 3, 3]);
      const got = Array.from(tf.stridedSlice(x, [0, 0, 0], [2, 3, 3], [1, 1, 2]).dataSync());
      const want: number[] = [];
      for (let i = 0; i < 6; i++) want.push(3 * i, 3 * i + 2);
      assert.deepEqual(got, want);
    });
  });

  it('Identity shares the buffer; disposing either tensor keeps the other valid', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const a = tf.tensor([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
    b.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('resolves the wasm binaries from the installed package', async () => {
    const { existsSync } = await import('node:fs');
    assert.ok(existsSync(`${wasmBinaryDirectory()}tfjs-backend-wasm-simd.wasm`));
  });
});
