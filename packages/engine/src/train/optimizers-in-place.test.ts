import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SeededRandom } from '@mitosis/core';
import { useBackend } from '../backend/use-backend.js';
import { tf } from '../tf.js';
import { Optimizer, type OptimizerConfig } from './optimizers.js';

function values(n: number, seed: number, scale = 1): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/**
 * Three updates of a 37-element weight; `shared` keeps a clone of the variable alive, which makes the optimizer
 * take its tensor-op path instead of the in-place one. Returns the weight after each step and the number of
 * tensors the last step left behind and whether the variable changed buffers.
 */
function run(config: OptimizerConfig, shared: boolean): { steps: Float32Array[]; leaked: number; moved: boolean } {
  const w = tf.variable(tf.tensor1d(values(37, 1)));
  const vars = new Map([['w', w]]);
  const opt = new Optimizer(config);
  const steps: Float32Array[] = [];
  let leaked = 0;
  let moved = false;
  for (let s = 0; s < 3; s++) {
    const g = tf.tensor1d(values(37, 10 + s, 0.5));
    const hold = shared ? tf.clone(w) : undefined;
    const before = tf.memory().numTensors;
    const id = w.dataId;
    opt.applyGradients(vars, new Map([['w', g]]), 0.05);
    leaked = tf.memory().numTensors - before;
    moved = w.dataId !== id;
    hold?.dispose();
    g.dispose();
    steps.push(Float32Array.from(w.dataSync() as Float32Array));
  }
  opt.dispose();
  w.dispose();
  return { steps, leaked, moved };
}

describe('Optimizer in place on wasm', () => {
  before(async () => {
    await useBackend('wasm');
  });

  const configs: OptimizerConfig[] = [
    { kind: 'sgd' },
    { kind: 'sgd', weightDecay: 5e-4 },
    { kind: 'sgd', momentum: 0.9 },
    { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-3 },
    { kind: 'adam' },
    { kind: 'adam', beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 1e-4 },
    { kind: 'rmsprop' },
    { kind: 'rmsprop', rho: 0.95, weightDecay: 1e-4 },
  ];
  for (const config of configs) {
    it(`gives the tensor-op path's values exactly: ${JSON.stringify(config)}`, () => {
      const inPlace = run(config, false);
      const ops = run(config, true);
      for (let s = 0; s < 3; s++) assert.deepEqual(Array.from(inPlace.steps[s] ?? []), Array.from(ops.steps[s] ?? []), `step ${s + 1}`);
      // Both give the variable a fresh buffer (convolutions cache packed filters by buffer); nothing is left behind.
      assert.equal(inPlace.leaked, 0);
      assert.equal(inPlace.moved, true);
      assert.equal(ops.moved, true);
    });
  }

  it('updates weights that convolutions and matrix products then see (no stale packed filter)', () => {
    const filter = tf.variable(tf.tensor4d(values(3 * 3 * 4 * 8, 5), [3, 3, 4, 8]));
    const kernel = tf.variable(tf.tensor2d(values(16 * 8, 6), [16, 8]));
    const x = tf.tensor4d(values(2 * 6 * 6 * 4, 7), [2, 6, 6, 4]);
    const a = tf.tensor2d(values(5 * 16, 8), [5, 16]);
    const vars = new Map<string, tf.Variable>();
    vars.set('f', filter);
    vars.set('k', kernel);
    const opt = new Optimizer({ kind: 'sgd', momentum: 0.9 });
    for (let s = 0; s < 2; s++) {
      // Use both weights (XNNPACK packs and caches them), update them, compare with fresh copies.
      tf.dispose([tf.conv2d(x, filter, 1, 'same'), tf.matMul(a, kernel)]);
      const gf = tf.onesLike(filter);
      const gk = tf.onesLike(kernel);
      opt.applyGradients(vars, new Map<string, tf.Tensor>([['f', gf], ['k', gk]]), 0.5);
      tf.tidy(() => {
        const fresh = tf.tensor4d(filter.dataSync() as Float32Array, [3, 3, 4, 8]);
        const freshK = tf.tensor2d(kernel.dataSync() as Float32Array, [16, 8]);
        assert.deepEqual(Array.from(tf.conv2d(x, filter, 1, 'same').dataSync()), Array.from(tf.conv2d(x, fresh, 1, 'same').dataSync()));
        assert.deepEqual(Array.from(tf.matMul(a, kernel).dataSync()), Array.from(tf.matMul(a, freshK).dataSync()));
      });
      tf.dispose([gf, gk]);
    }
    opt.dispose();
    tf.dispose([filter, kernel, x, a]);
  });

  it('keeps slots that getState / fromState carry over', () => {
    const w = tf.variable(tf.tensor1d(values(9, 3)));
    const vars = new Map([['w', w]]);
    const a = new Optimizer({ kind: 'sgd', momentum: 0.9 });
    const g = tf.tensor1d(values(9, 4));
    a.applyGradients(vars, new Map([['w', g]]), 0.1);
    const state = a.getState();
    const slot = state.slots.get('w#momentum');
    assert.deepEqual(Array.from(slot?.data ?? []), Array.from(g.dataSync()));
    const b = Optimizer.fromState(state);
    b.applyGradients(vars, new Map([['w', g]]), 0.1);
    assert.equal(b.iterations, 2);
    tf.dispose([g, w]);
    a.dispose();
    b.dispose();
  });
});
