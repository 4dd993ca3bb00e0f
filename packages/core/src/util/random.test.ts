import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from './random.js';

describe('SeededRandom', () => {
  it('repeats its stream for a seed and differs across seeds', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
    for (const x of xs) assert.ok(x >= 0 && x < 1);
  });

  it('resumes exactly from a snapshot, normals included', () => {
    const a = new SeededRandom(7);
    a.normal();
    const snap = a.snapshot();
    const rest = [a.normal(), a.next(), a.normal()];
    const b = SeededRandom.restore(snap);
    assert.deepEqual([b.normal(), b.next(), b.normal()], rest);
  });

  it('draws normals with mean ≈ 0 and variance ≈ 1', () => {
    const r = new SeededRandom(1);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      s += x;
      s2 += x * x;
    }
    assert.ok(Math.abs(s / n) < 0.03);
    assert.ok(Math.abs(s2 / n - 1) < 0.05);
  });

  it('shuffles into a permutation', () => {
    const arr = Array.from({ length: 50 }, (_, i) => i);
    new SeededRandom(3).shuffle(arr);
    assert.deepEqual([...arr].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(arr, Array.from({ length: 50 }, (_, i) => i));
  });
});
