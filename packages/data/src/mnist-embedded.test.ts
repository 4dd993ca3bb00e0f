import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classCounts } from './dataset-ops.js';
import { EMBEDDED_MNIST_CLASS_COUNTS, loadEmbeddedMnist } from './mnist-embedded.js';
import { loadDataset } from './load-dataset.js';

describe('embedded mnist', () => {
  it('exposes all 10 000 real 28×28 digits of the mnist package, in [0, 1], labels 0–9', () => {
    const ds = loadEmbeddedMnist();
    assert.equal(ds.count, 10000);
    assert.deepEqual(ds.inputShape, [28, 28, 1]);
    assert.equal(ds.targetSize, 10);
    assert.equal(ds.x.length, 10000 * 784);
    assert.deepEqual(classCounts(ds), [...EMBEDDED_MNIST_CLASS_COUNTS]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    // every digit has ink, and mean ink is in MNIST's usual range (about 0.13)
    let total = 0;
    for (let i = 0; i < ds.count; i++) {
      let ink = 0;
      for (let p = 0; p < 784; p++) ink += ds.x[i * 784 + p] as number;
      assert.ok(ink > 0, `digit ${i} is blank`);
      total += ink;
    }
    const meanInk = total / ds.x.length;
    assert.ok(meanInk > 0.1 && meanInk < 0.16, `mean ink ${meanInk}`);
  });

  it('splits into train/val/test 7000/1000/2000 by default, covering every digit once', async () => {
    const s = await loadDataset('mnist', { seed: 3 });
    assert.deepEqual([s.train.count, s.val.count, s.test.count], [7000, 1000, 2000]);
    const counts = [s.train, s.val, s.test].map(classCounts);
    const sum = EMBEDDED_MNIST_CLASS_COUNTS.map((_, c) => counts.reduce((a, k) => a + (k[c] as number), 0));
    assert.deepEqual(sum, [...EMBEDDED_MNIST_CLASS_COUNTS]);
    const limited = await loadDataset('mnist', { seed: 3, limit: { train: 100, test: 10 } });
    assert.deepEqual([limited.train.count, limited.val.count, limited.test.count], [100, 1000, 10]);
    assert.deepEqual(limited.train.x, s.train.x.subarray(0, 100 * 784));
  });
});
