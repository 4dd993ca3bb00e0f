import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NasError } from '@mitosis/core';
import { knapsackGreedy, selectByBeta, selectByQuantile } from './selection.js';

test('check H: S2D quantile rule, strict comparison drops the tie at the threshold', () => {
  const lambdas = [0.3, -0.2, -1.5, 0.1, -0.05, -0.9, 0, -0.4, 0.2, -0.6];
  const r = selectByQuantile(lambdas, 0.3);
  assert.equal(r.threshold, -0.4);
  assert.deepEqual(r.selected, [2, 5, 9]);
});

test('quantile edge cases: fraction 0 selects nothing, 1 selects all, bad input throws', () => {
  assert.deepEqual(selectByQuantile([1, 2, 3], 0).selected, []);
  assert.deepEqual(selectByQuantile([1, 2, 3], 1).selected, [0, 1, 2]);
  assert.deepEqual(selectByQuantile([], 0.3).selected, []);
  assert.throws(() => selectByQuantile([1], 1.5), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  assert.throws(() => selectByQuantile([1, Number.NaN], 0.5), (e) => NasError.is(e, 'E_NUMERICAL'));
});

test('check H: energy-aware LP by exact greedy, beta = (1, 1, 0.2, 0, 0, 1), objective -7.7', () => {
  const lambdas = [-3, -2, -1, 0.5, -0.4, -2.5];
  const layers = [0, 0, 1, 1, 2, 2];
  const costByLayer = [1, 2.5, 1.5];
  const items = lambdas.map((lambda, i) => ({ lambda, layer: layers[i]!, cost: costByLayer[layers[i]!]! }));
  const r = knapsackGreedy(items, [4], [2, 1, 1]);
  const expected = [1, 1, 0.2, 0, 0, 1];
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(r.beta[i]! - expected[i]!) < 1e-12, `beta[${i}] = ${r.beta[i]}`);
  assert.ok(Math.abs(r.objective - -7.7) < 1e-12);
  assert.ok(Math.abs(r.used[0]! - 4) < 1e-12);
  assert.deepEqual(selectByBeta(r.beta, 0.99), [0, 1, 5]);
});

test('knapsack: LP optimum agrees with brute force over a vertex grid on random instances', () => {
  // Integer-budget instances with unit costs per layer: the LP optimum is integral; compare with brute force.
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let trial = 0; trial < 30; trial++) {
    const n = 7;
    const items = Array.from({ length: n }, () => ({ lambda: rand() * 4 - 3, layer: Math.floor(rand() * 3), cost: 1 }));
    const caps = [1 + Math.floor(rand() * 3), 1 + Math.floor(rand() * 3), 1 + Math.floor(rand() * 3)];
    const budget = 1 + Math.floor(rand() * 5);
    const r = knapsackGreedy(items, [budget], caps);
    let best = 0;
    for (let mask = 0; mask < 1 << n; mask++) {
      const count = [0, 0, 0];
      let obj = 0;
      let total = 0;
      for (let i = 0; i < n; i++) {
        if (mask & (1 << i)) {
          count[items[i]!.layer]!++;
          obj += items[i]!.lambda;
          total++;
        }
      }
      if (total <= budget && count.every((c, l) => c <= caps[l]!)) best = Math.min(best, obj);
    }
    assert.ok(Math.abs(r.objective - best) < 1e-9, `trial ${trial}: greedy ${r.objective} vs brute ${best}`);
  }
});

test('knapsack rejects inconsistent layers and missing budgets', () => {
  assert.throws(
    () => knapsackGreedy([{ lambda: -1, layer: 0, cost: 1 }, { lambda: -1, layer: 0, cost: 2 }], [1], [2]),
    (e) => NasError.is(e, 'E_OPTIONS_INVALID'),
  );
  assert.throws(() => knapsackGreedy([{ lambda: -1, layer: 0, cost: 1, group: 1 }], [1], [2]), (e) =>
    NasError.is(e, 'E_OPTIONS_INVALID'),
  );
});
