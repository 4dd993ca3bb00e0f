import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { initWasmBackend } from '../wasm-backend.js';
import { benchRefnetStep, createRefnet } from './refnet-step.js';

const tiny = { batch: 4, size: 8, classes: 10 };

describe('refnet benchmark step', () => {
  before(async () => {
    await initWasmBackend();
  });

  it('times steps on wasm, with finite losses and no leaked tensors', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const r = await benchRefnetStep({ steps: 2, warmup: 1, shape: tiny, profile: true });
    assert.equal(r.backend, 'wasm');
    assert.ok(r.stepMs > 0 && Number.isFinite(r.imagesPerSecond));
    assert.ok(r.losses.every((l) => Number.isFinite(l)));
    assert.ok((r.kernels ?? []).some((k) => k.name === 'DepthwiseConv2dNativeBackpropFilter'));
    assert.equal(tf.memory().numTensors, before);
  });

  it('fits a fixed batch: the loss falls over a few steps (cpu and wasm agree)', async () => {
    const losses: number[][] = [];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const model = createRefnet(tiny, 3, 0.1);
      const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const y = tf.cast(tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10), 'float32') as tf.Tensor2D;
      const l: number[] = [];
      for (let i = 0; i < 6; i++) l.push(model.step(x, y));
      tf.dispose([x, y]);
      model.dispose();
      losses.push(l);
    }
    const [cpu, wasm] = losses as [number[], number[]];
    assert.ok((cpu.at(-1) ?? Infinity) < (cpu[0] ?? 0), `cpu losses ${cpu.join(', ')}`);
    cpu.forEach((l, i) => assert.ok(Math.abs(l - (wasm[i] ?? 0)) < 1e-3 * Math.max(1, l), `step ${i}`));
  });
});
