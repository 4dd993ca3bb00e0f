import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { axpy, dot, norm, normalise, orthonormalise, orthogonaliseAgainst, relativeAsymmetry, symmetrise } from './vector.js';

describe('vector helpers', () => {
  it('dot, norm, axpy and normalise with offsets', () => {
    const x = Float64Array.of(9, 3, 4);
    assert.equal(dot(x, x, 2, 1, 1), 25);
    assert.equal(norm(x, 2, 1), 5);
    const y = Float64Array.of(1, 1, 1);
    axpy(2, x, y, 2, 1, 0);
    assert.deepEqual([...y], [7, 9, 1]);
    assert.equal(normalise(x, 2, 1), 5);
    assert.equal(x[0], 9);
    assert.ok(Math.abs(x[1]! - 0.6) < 1e-15 && Math.abs(x[2]! - 0.8) < 1e-15);
    const z = new Float64Array(2);
    assert.equal(normalise(z), 0);
    assert.deepEqual([...z], [0, 0]);
  });

  it('orthonormalise keeps the span, zeroes dependent rows and reports the rank', () => {
    const v = Float64Array.of(1, 1, 0, 2, 2, 0, 1, 0, 1);
    assert.equal(orthonormalise(v, 3, 3), 2);
    assert.deepEqual([...v.subarray(3, 6)], [0, 0, 0]);
    assert.ok(Math.abs(dot(v, v, 3, 0, 6)) < 1e-15);
    assert.ok(Math.abs(norm(v, 3, 6) - 1) < 1e-15);
    const w = Float64Array.of(3, 1, 5);
    const left = orthogonaliseAgainst(w, v, 1, 3);
    assert.ok(Math.abs(dot(w, v, 3, 0, 0)) < 1e-15);
    assert.ok(Math.abs(left - norm(w)) < 1e-15);
  });

  it('symmetrise averages the triangles; relativeAsymmetry measures the difference', () => {
    const a = Float64Array.of(1, 2, 4, 3);
    assert.equal(relativeAsymmetry(a, 2), 0.5);
    symmetrise(a, 2);
    assert.deepEqual([...a], [1, 3, 3, 3]);
    assert.equal(relativeAsymmetry(a, 2), 0);
    assert.equal(relativeAsymmetry(new Float64Array(4), 2), 0);
  });
});
