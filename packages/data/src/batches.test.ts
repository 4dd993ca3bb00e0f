import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { batchCount, batches } from './batches.js';
import { createDataset, oneHot, subset } from './dataset-ops.js';
import { channelStats, normalise, normaliseSplits } from './normalise.js';

const ds = createDataset({
  name: 'tiny',
  task: 'classification',
  inputShape: [1, 1, 2],
  targetSize: 3,
  x: Float32Array.from({ length: 14 }, (_, i) => i),
  y: Float32Array.from([0, 1, 2, 0, 1, 2, 0]),
});

describe('batches', () => {
  it('visits every sample once in data set order, with a short last batch', () => {
    const got = [...batches(ds, 3)];
    assert.deepEqual(
      got.map((b) => b.count),
      [3, 3, 1],
    );
    assert.deepEqual(Array.from(got[1]?.x ?? []), [6, 7, 8, 9, 10, 11]);
    assert.deepEqual(Array.from(got[2]?.indices ?? []), [6]);
    assert.equal(batchCount(7, 3), 3);
  });

  it('shuffles deterministically per seed and can drop the last batch', () => {
    const order = (seed: number) => [...batches(ds, 2, { shuffle: true, seed })].flatMap((b) => [...b.indices]);
    assert.deepEqual(order(1), order(1));
    assert.notDeepEqual(order(1), order(2));
    assert.deepEqual([...order(1)].sort(), [0, 1, 2, 3, 4, 5, 6]);
    const it = batches(ds, 2, { shuffle: true, seed: 1 });
    assert.deepEqual(
      [...it].map((b) => [...b.indices]),
      [...it].map((b) => [...b.indices]),
    );
    const dropped = [...batches(ds, 2, { shuffle: true, seed: 1, dropLast: true })];
    assert.equal(dropped.length, 3);
    assert.equal(batchCount(7, 2, true), 3);
    for (const b of dropped) {
      for (let k = 0; k < b.count; k++) {
        const i = b.indices[k] as number;
        assert.deepEqual([b.x[2 * k], b.x[2 * k + 1]], [2 * i, 2 * i + 1]);
        assert.equal(b.y[k], ds.y[i]);
      }
    }
  });

  it('gives one-hot targets on request', () => {
    const [first] = [...batches(ds, 2, { oneHot: true })];
    assert.deepEqual(Array.from(first?.y ?? []), [1, 0, 0, 0, 1, 0]);
  });

  it('rejects a batch size that is not a positive integer', () => {
    assert.throws(() => batches(ds, 0), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'));
  });
});

describe('subset and oneHot', () => {
  it('copies the chosen samples in order', () => {
    const s = subset(ds, [6, 0]);
    assert.equal(s.count, 2);
    assert.deepEqual(Array.from(s.x), [12, 13, 0, 1]);
    assert.deepEqual(Array.from(s.y), [0, 0]);
    assert.throws(() => subset(ds, [7]), (e: unknown) => NasError.is(e, 'E_DATA_INVALID'));
  });

  it('one-hot encodes and rejects labels out of range', () => {
    assert.deepEqual(Array.from(oneHot([2, 0], 3)), [0, 0, 1, 1, 0, 0]);
    assert.throws(() => oneHot([3], 3), (e: unknown) => NasError.is(e, 'E_DATA_INVALID') && e.details['index'] === 0);
  });
});

describe('channel statistics and normalisation', () => {
  it('computes per-channel mean and population std', () => {
    // channel 0: 0, 2, …, 12; channel 1: 1, 3, …, 13
    const stats = channelStats(ds);
    assert.deepEqual(stats.mean, [6, 7]);
    const std = Math.sqrt([0, 2, 4, 6, 8, 10, 12].reduce((a, v) => a + (v - 6) ** 2, 0) / 7);
    for (const s of stats.std) assert.ok(Math.abs(s - std) < 1e-12);
  });

  it('normalises to zero mean and unit std and applies the train statistics to every split', () => {
    const train = subset(ds, [0, 1, 2, 3]);
    const val = subset(ds, [4, 5, 6]);
    const { splits, stats } = normaliseSplits({ train, val, test: val });
    const after = channelStats(splits.train);
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(after.mean[c] as number) < 1e-6);
      assert.ok(Math.abs((after.std[c] as number) - 1) < 1e-6);
    }
    // val value 8 (channel 0) uses train mean 3 and std √5
    assert.ok(Math.abs((splits.val.x[0] as number) - (8 - 3) / Math.sqrt(5)) < 1e-6);
    assert.deepEqual(stats.mean, [3, 4]);
    assert.deepEqual(splits.test.x, splits.val.x);
    assert.deepEqual(Array.from(val.x.subarray(0, 2)), [8, 9], 'inputs are not mutated');
  });

  it('leaves a constant channel centred instead of dividing by zero', () => {
    const flat = createDataset({
      name: 'flat',
      task: 'regression',
      inputShape: [1],
      targetSize: 1,
      x: Float32Array.from([5, 5]),
      y: Float32Array.from([0, 1]),
    });
    assert.deepEqual(Array.from(normalise(flat, channelStats(flat)).x), [0, 0]);
    assert.throws(() => normalise(ds, { mean: [0], std: [1] }), (e: unknown) => NasError.is(e, 'E_SHAPE_MISMATCH'));
  });
});
