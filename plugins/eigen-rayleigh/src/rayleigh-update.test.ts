import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matVec, normalise } from '@mitosis/linalg';
import { RmsProp, rayleighGradient } from './rayleigh-update.js';

const F = Float64Array.of(2, 1, 0, 1, -1, 0.5, 0, 0.5, 0.3);
const LAMBDA_MIN = -1.435182425313032;

function quotient(v: Float64Array): number {
  const sv = new Float64Array(3);
  matVec(F, 3, v, sv);
  return rayleighGradient(v, sv, new Float64Array(3), 3);
}

describe('rayleighGradient (check F)', () => {
  it('matches central finite differences of R(v) at a non-unit v', () => {
    const v = Float64Array.of(0.3, -1.2, 0.7);
    const sv = new Float64Array(3);
    matVec(F, 3, v, sv);
    const grad = new Float64Array(3);
    const r = rayleighGradient(v, sv, grad, 3);
    assert.ok(Math.abs(r - quotient(v)) < 1e-15);
    const h = 1e-6;
    for (let i = 0; i < 3; i++) {
      const plus = v.slice();
      const minus = v.slice();
      plus[i] = plus[i]! + h;
      minus[i] = minus[i]! - h;
      const fd = (quotient(plus) - quotient(minus)) / (2 * h);
      assert.ok(Math.abs(fd - grad[i]!) < 1e-9, `component ${i}: ${fd} vs ${grad[i]}`);
    }
  });

  it('plain gradient steps η = 0.1 with renormalisation reach |R − λ_min| < 1e-10 at iteration 30 ± 2', () => {
    const v = Float64Array.of(1, 1, 1);
    normalise(v);
    const sv = new Float64Array(3);
    const grad = new Float64Array(3);
    let reached = -1;
    for (let t = 1; t <= 100 && reached < 0; t++) {
      matVec(F, 3, v, sv);
      rayleighGradient(v, sv, grad, 3);
      for (let i = 0; i < 3; i++) v[i] = v[i]! - 0.1 * grad[i]!;
      normalise(v);
      if (Math.abs(quotient(v) - LAMBDA_MIN) < 1e-10) reached = t;
    }
    assert.ok(Math.abs(reached - 30) <= 2, `reached at iteration ${reached}`);
    const expected = [0.269383246565912, -0.925380594276986, 0.266652249578325];
    assert.ok(Math.abs(Math.abs(expected.reduce((s, x, i) => s + x * v[i]!, 0)) - 1) < 1e-9);
  });

  it('a zero vector gives R = 0 and a zero gradient (no NaN)', () => {
    const grad = Float64Array.of(5, 5);
    assert.equal(rayleighGradient(new Float64Array(2), Float64Array.of(1, 1), grad, 2), 0);
    assert.deepEqual([...grad], [0, 0]);
  });
});

describe('RmsProp', () => {
  it('follows the PyTorch update with momentum (two steps by hand)', () => {
    const opt = new RmsProp(1, { momentum: 0.9, alpha: 0.9, epsilon: 0 });
    const p = Float64Array.of(1);
    opt.step(p, Float64Array.of(2), 0.1);
    // a = 0.1·4 = 0.4; b = 2/√0.4; p = 1 − 0.1·b
    const b1 = 2 / Math.sqrt(0.4);
    assert.ok(Math.abs(p[0]! - (1 - 0.1 * b1)) < 1e-15);
    opt.step(p, Float64Array.of(-1), 0.1);
    const a2 = 0.9 * 0.4 + 0.1;
    const b2 = 0.9 * b1 - 1 / Math.sqrt(a2);
    assert.ok(Math.abs(p[0]! - (1 - 0.1 * b1 - 0.1 * b2)) < 1e-15);
  });
});
