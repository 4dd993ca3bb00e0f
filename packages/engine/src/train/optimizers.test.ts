import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { useBackend } from '../backend/use-backend.js';
import { tf } from '../tf.js';
import { Optimizer, validateOptimizerConfig, type OptimizerConfig } from './optimizers.js';

await useBackend('cpu');

/** Runs `steps` updates of w = [1, −2] with gradients g_t given per step; returns w after each step. */
function run(config: OptimizerConfig, grads: number[][], lr: number, opt = new Optimizer(config)): number[][] {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const vars = new Map([['w', w]]);
  const out: number[][] = [];
  for (const g of grads) {
    const gt = tf.tensor1d(g);
    opt.applyGradients(vars, new Map([['w', gt]]), lr);
    gt.dispose();
    out.push(Array.from(w.dataSync()));
  }
  w.dispose();
  opt.dispose();
  return out;
}

function close(actual: number[][], expected: number[][], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - expected[i]![j]!) < tol, `step ${i} [${j}]: ${v} vs ${expected[i]![j]}`)));
}

const G = [
  [0.5, -1],
  [0.25, 2],
];

describe('Optimizer', () => {
  it('plain SGD subtracts lr·g', () => {
    close(run({ kind: 'sgd' }, G, 0.1), [
      [0.95, -1.9],
      [0.925, -2.1],
    ]);
  });

  it('SGD momentum keeps v = μv + g and steps by lr·v', () => {
    // v1 = g1; v2 = 0.9·g1 + g2 = [0.7, 1.1]
    close(run({ kind: 'sgd', momentum: 0.9 }, G, 0.1), [
      [0.95, -1.9],
      [0.88, -2.01],
    ]);
  });

  it('Nesterov SGD steps by lr·(g + μv)', () => {
    // step1: g1 + 0.9·g1 = [0.95, −1.9]; step2: g2 + 0.9·[0.7, 1.1] = [0.88, 2.99]
    close(run({ kind: 'sgd', momentum: 0.9, nesterov: true }, G, 0.1), [
      [0.905, -1.81],
      [0.817, -2.109],
    ]);
  });

  it('weight decay adds λ·w to the gradient', () => {
    // g1 + 0.1·[1, −2] = [0.6, −1.2] → w1 = [0.94, −1.88]; g2 + 0.1·w1 = [0.344, 1.812] → w2 = [0.9056, −2.0612]
    close(run({ kind: 'sgd', weightDecay: 0.1 }, G, 0.1), [
      [0.94, -1.88],
      [0.9056, -2.0612],
    ]);
  });

  it('Adam applies bias-corrected moments', () => {
    const b1 = 0.9;
    const b2 = 0.999;
    const eps = 1e-8;
    const lr = 0.01;
    const w = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    const expected: number[][] = [];
    G.forEach((g, t) => {
      for (let j = 0; j < 2; j++) {
        m[j] = b1 * m[j]! + (1 - b1) * g[j]!;
        v[j] = b2 * v[j]! + (1 - b2) * g[j]! ** 2;
        const mh = m[j]! / (1 - b1 ** (t + 1));
        const vh = v[j]! / (1 - b2 ** (t + 1));
        w[j] = w[j]! - (lr * mh) / (Math.sqrt(vh) + eps);
      }
      expected.push([...w]);
    });
    close(run({ kind: 'adam' }, G, lr), expected, 1e-6);
    // the first Adam step moves each weight by ≈ lr against the gradient's sign
    assert.ok(Math.abs(expected[0]![0]! - 0.99) < 1e-6);
  });

  it('RMSprop divides by the root of the running mean square', () => {
    // s1 = 0.1·g1² = [0.025, 0.1] → w1 = [1 − 0.01·0.5/√0.025, −2 + 0.01·1/√0.1]
    const w1 = [1 - (0.01 * 0.5) / (Math.sqrt(0.025) + 1e-8), -2 + (0.01 * 1) / (Math.sqrt(0.1) + 1e-8)];
    const s2 = [0.9 * 0.025 + 0.1 * 0.0625, 0.9 * 0.1 + 0.1 * 4];
    const w2 = [w1[0]! - (0.01 * 0.25) / (Math.sqrt(s2[0]!) + 1e-8), w1[1]! - (0.01 * 2) / (Math.sqrt(s2[1]!) + 1e-8)];
    close(run({ kind: 'rmsprop' }, G, 0.01), [w1, w2]);
  });

  it('resumes exactly from a serialised state', () => {
    for (const config of [{ kind: 'sgd', momentum: 0.9, nesterov: true }, { kind: 'adam' }, { kind: 'rmsprop' }] as const) {
      const whole = run(config, [...G, [1, 1]], 0.05);
      // two steps, snapshot, rebuild, third step from the snapshot
      const opt = new Optimizer(config);
      const w = tf.variable(tf.tensor1d([1, -2]));
      const vars = new Map([['w', w]]);
      for (const g of G) tf.tidy(() => opt.applyGradients(vars, new Map([['w', tf.tensor1d(g)]]), 0.05));
      const state = opt.getState();
      opt.dispose();
      assert.equal(state.iterations, 2);
      const resumed = Optimizer.fromState(state);
      tf.tidy(() => resumed.applyGradients(vars, new Map([['w', tf.tensor1d([1, 1])]]), 0.05));
      close([Array.from(w.dataSync())], [whole[2]!], 1e-7);
      resumed.dispose();
      w.dispose();
    }
  });

  it('leaves no tensors behind besides its slots', () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    const opt = new Optimizer({ kind: 'adam' });
    const g = tf.tensor1d([1, 1, 1]);
    opt.applyGradients(new Map([['w', w]]), new Map([['w', g]]), 0.1);
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.applyGradients(new Map([['w', w]]), new Map([['w', g]]), 0.1);
    assert.equal(tf.memory().numTensors, after1);
    opt.dispose();
    tf.dispose([w, g]);
  });

  it('rejects an unknown kind or a negative field with E_CONFIG_INVALID and a pointer', () => {
    assert.throws(() => validateOptimizerConfig({ kind: 'lion' }, 'cfg.json'), (e: unknown) => NasError.is(e, 'E_CONFIG_INVALID') && e.details['file'] === 'cfg.json');
    assert.throws(
      () => validateOptimizerConfig({ kind: 'sgd', momentum: -1 }, 'cfg.json'),
      (e: unknown) => NasError.is(e, 'E_CONFIG_INVALID') && JSON.stringify(e.details['problems']).includes('/momentum'),
    );
  });
});
