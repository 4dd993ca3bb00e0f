import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { incompleteBeta, mean, pairedComparison, paretoFront, sampleStd, studentTCdf, studentTQuantile } from './stats.js';

const close = (a: number, b: number, tol: number, what = ''): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

describe('statistics', () => {
  it('mean and sample standard deviation', () => {
    assert.equal(mean([1, 2, 3, 4]), 2.5);
    close(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), 2.138089935299395, 1e-12);
    assert.ok(Number.isNaN(sampleStd([1])));
    assert.ok(Number.isNaN(mean([])));
  });

  it('incomplete beta matches closed forms', () => {
    // I_x(1, 1) = x; I_x(2, 1) = x²; I_x(1/2, 1/2) = (2/π) asin(√x).
    close(incompleteBeta(0.3, 1, 1), 0.3, 1e-12);
    close(incompleteBeta(0.3, 2, 1), 0.09, 1e-12);
    close(incompleteBeta(0.7, 0.5, 0.5), (2 / Math.PI) * Math.asin(Math.sqrt(0.7)), 1e-10);
  });

  it('Student t quantiles match the printed tables', () => {
    const table: [number, number][] = [
      [1, 12.7062047],
      [2, 4.30265273],
      [3, 3.18244631],
      [4, 2.77644511],
      [9, 2.26215716],
      [29, 2.04522964],
      [1000, 1.96233908],
    ];
    for (const [df, t] of table) close(studentTQuantile(0.975, df), t, 1e-6, `df ${df}`);
    close(studentTQuantile(0.025, 4), -2.77644511, 1e-6);
    // Cauchy (df 1): P(T ≤ 1) = 3/4.
    close(studentTCdf(1, 1), 0.75, 1e-12);
  });

  it('pairs by seed and gives the t interval of the mean difference', () => {
    const method = new Map([
      [0, 0.85],
      [1, 0.87],
      [2, 0.86],
      [7, 0.9],
    ]);
    const ref = new Map([
      [0, 0.84],
      [1, 0.84],
      [2, 0.85],
      [3, 0.8],
    ]);
    const c = pairedComparison(method, ref);
    assert.deepEqual(c.seeds, [0, 1, 2]);
    // differences 0.01, 0.03, 0.01: mean 0.05/3, s = 0.011547, t(0.975, 2) = 4.302653
    close(c.mean, 0.05 / 3, 1e-12);
    const half = (4.30265273 * 0.0115470054) / Math.sqrt(3);
    close(c.ci95?.[0] ?? Number.NaN, 0.05 / 3 - half, 1e-7);
    close(c.ci95?.[1] ?? Number.NaN, 0.05 / 3 + half, 1e-7);
    assert.equal(c.wins, 3);
    const one = pairedComparison(new Map([[0, 0.5]]), new Map([[0, 0.6]]));
    assert.equal(one.n, 1);
    close(one.mean, -0.1, 1e-12);
    assert.equal(one.ci95, null);
    assert.equal(pairedComparison(new Map([[1, 0.5]]), new Map([[0, 0.6]])).n, 0);
  });

  it('finds the Pareto front of accuracy against cost', () => {
    const pts = [
      { cost: 3, accuracy: 0.9 }, // front
      { cost: 1, accuracy: 0.8 }, // front
      { cost: 2, accuracy: 0.7 }, // dominated by (1, 0.8)
      { cost: 3, accuracy: 0.85 }, // dominated by (3, 0.9)
      { cost: 4, accuracy: 0.95 }, // front
      { cost: 1, accuracy: 0.8 }, // a tie with a front point: also on it
    ];
    assert.deepEqual(paretoFront(pts), [1, 5, 0, 4]);
  });
});
