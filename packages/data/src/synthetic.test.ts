import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, type ConfigProblem } from '@mitosis/core';
import { classCounts } from './dataset-ops.js';
import { blobs, regression1d, spirals, syntheticImages, toy1d } from './synthetic.js';

describe('synthetic data sets', () => {
  it('toy-1d is the 13-point tanh staircase of algorithms.md §9 C', () => {
    const ds = toy1d();
    assert.equal(ds.count, 13);
    assert.equal(ds.task, 'regression');
    assert.deepEqual(ds.inputShape, [1]);
    for (let i = 0; i < 13; i++) {
      const x = -3 + 0.5 * i;
      assert.equal(ds.x[i], x);
      assert.equal(ds.y[i], Math.fround(Math.tanh(3 * x + 1.5) + Math.tanh(3 * x - 1.5)));
    }
    assert.equal(ds.y[6], 0);
    assert.ok(Math.abs((ds.y[8] as number) - 1.9049015) < 1e-6);
  });

  it('generates the same data for the same seed and different data for another', () => {
    for (const make of [
      (seed: number) => regression1d({ seed, count: 20 }),
      (seed: number) => blobs({ seed, count: 20 }),
      (seed: number) => spirals({ seed, count: 20 }),
      (seed: number) => syntheticImages({ seed, count: 4, height: 4, width: 4 }),
    ]) {
      assert.deepEqual(make(7).x, make(7).x);
      assert.notDeepEqual(make(7).x, make(8).x);
    }
  });

  it('blobs and spirals have the requested shapes and balanced classes', () => {
    const b = blobs({ count: 40, classes: 4, dims: 5 });
    assert.deepEqual(b.inputShape, [5]);
    assert.deepEqual(classCounts(b), [10, 10, 10, 10]);
    const s = spirals({ count: 31, arms: 3 });
    assert.deepEqual(s.inputShape, [2]);
    assert.deepEqual(classCounts(s), [11, 10, 10]);
  });

  it('blob samples cluster around distinct class centres', () => {
    const b = blobs({ count: 300, classes: 3, spread: 0.1, seed: 2 });
    const means = [0, 1, 2].map((c) => {
      let sx = 0;
      let sy = 0;
      for (let i = c; i < 300; i += 3) {
        sx += b.x[2 * i] as number;
        sy += b.x[2 * i + 1] as number;
      }
      return [sx / 100, sy / 100] as const;
    });
    for (let i = 0; i < 300; i++) {
      const [mx, my] = means[i % 3] as readonly [number, number];
      assert.ok(Math.hypot((b.x[2 * i] as number) - mx, (b.x[2 * i + 1] as number) - my) < 0.6);
    }
  });

  it('synthetic images are HWC values in [0, 1] whose class means differ', () => {
    const ds = syntheticImages({ count: 20, classes: 2, height: 8, width: 6, channels: 3, seed: 4 });
    assert.deepEqual(ds.inputShape, [8, 6, 3]);
    assert.equal(ds.x.length, 20 * 8 * 6 * 3);
    assert.ok(ds.x.every((v) => v >= 0 && v <= 1));
    const per = 8 * 6 * 3;
    const mean = (c: number) => {
      const m = new Float64Array(per);
      for (let s = c; s < 20; s += 2) for (let v = 0; v < per; v++) m[v]! += (ds.x[s * per + v] as number) / 10;
      return m;
    };
    const a = mean(0);
    const b = mean(1);
    let dist = 0;
    for (let v = 0; v < per; v++) dist += ((a[v] as number) - (b[v] as number)) ** 2;
    assert.ok(Math.sqrt(dist / per) > 0.05, `class means too close: rms ${Math.sqrt(dist / per)}`);
  });

  it('rejects bad generator options with JSON pointers', () => {
    assert.throws(
      () => blobs({ classes: 0, dims: 1.5 }),
      (e: unknown) => {
        assert.ok(NasError.is(e, 'E_OPTIONS_INVALID'));
        const p = (e.details['problems'] as ConfigProblem[]).map((q) => q.pointer).sort();
        assert.deepEqual(p, ['/classes', '/dims']);
        return true;
      },
    );
  });
});
