import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { knapsackGreedy, selectByBeta, selectByQuantile } from './selection.js';

describe('selectByQuantile', () => {
  it('reproduces check H: grow 0.3 gives thre −0.4 and splits {2, 5, 9} (strict, index 7 tied)', () => {
    const lambdas = [0.3, -0.2, -1.5, 0.1, -0.05, -0.9, 0, -0.4, 0.2, -0.6];
    const q = selectByQuantile(lambdas, 0.3);
    assert.equal(q.threshold, -0.4);
    assert.deepEqual(q.selected, [2, 5, 9]);
  });

  it('selects everything at fraction 1 and nothing at 0', () => {
    assert.deepEqual(selectByQuantile([2, 1, 3], 1).selected, [0, 1, 2]);
    assert.deepEqual(selectByQuantile([2, 1, 3], 0).selected, []);
  });

  it('rejects a fraction outside [0, 1] and NaN splitting indices', () => {
    assert.throws(() => selectByQuantile([1], 1.5), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
    assert.throws(() => selectByQuantile([1, Number.NaN], 0.5), (e) => NasError.is(e, 'E_NUMERICAL'));
  });
});

describe('knapsackGreedy', () => {
  const lambda = [-3, -2, -1, 0.5, -0.4, -2.5];
  const layer = [0, 0, 1, 1, 2, 2];
  const cost = [1, 2.5, 1.5];
  const items = lambda.map((l, i) => ({ lambda: l, layer: layer[i]!, cost: cost[layer[i]!]! }));

  it('reproduces check H: β = (1, 1, 0.2, 0, 0, 1), objective −7.7, threshold 0.99 selects {0, 1, 5}', () => {
    const r = knapsackGreedy(items, [4], [2, 1, 1]);
    const expected = [1, 1, 0.2, 0, 0, 1];
    expected.forEach((b, i) => assert.ok(Math.abs(r.beta[i]! - b) < 1e-12, `β_${i} = ${r.beta[i]}, expected ${b}`));
    assert.ok(Math.abs(r.objective - -7.7) < 1e-12);
    assert.ok(Math.abs(r.used[0]! - 4) < 1e-12);
    assert.deepEqual(selectByBeta(r.beta, 0.99), [0, 1, 5]);
  });

  it('agrees with brute force on random integral instances', () => {
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

  it('never selects λ ≥ 0, even with budget to spare', () => {
    const r = knapsackGreedy(items, [1000], [Infinity, Infinity, Infinity]);
    assert.equal(r.beta[3], 0);
    assert.deepEqual(selectByBeta(r.beta), [0, 1, 2, 4, 5]);
  });

  it('keeps each group within its own budget', () => {
    const grouped = items.map((it, i) => ({ ...it, group: layer[i] === 2 ? 1 : 0 }));
    const r = knapsackGreedy(grouped, [1, 1.5], [2, 1, 1]);
    assert.ok(r.used[0]! <= 1 + 1e-12 && r.used[1]! <= 1.5 + 1e-12);
    assert.deepEqual(selectByBeta(r.beta), [0, 5]);
  });

  it('rejects items of one layer with different costs, and a negative budget', () => {
    assert.throws(
      () => knapsackGreedy([{ lambda: -1, layer: 0, cost: 1 }, { lambda: -1, layer: 0, cost: 2 }], [1], [2]),
      (e) => NasError.is(e, 'E_OPTIONS_INVALID'),
    );
    assert.throws(() => knapsackGreedy([], [-1], []), (e) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
});
