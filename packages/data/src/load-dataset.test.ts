import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { listDatasets, loadDataset, loadDatasetWithInfo, loadSamples } from './load-dataset.js';
import { tempDir } from './test-files.js';

describe('loadDataset', () => {
  it('splits the same way for the same seed and differently for another', async () => {
    const a = await loadDataset('blobs', { seed: 11, count: 50 });
    const b = await loadDataset('blobs', { seed: 11, count: 50 });
    const c = await loadDataset('blobs', { seed: 12, count: 50 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.val.y, b.val.y);
    assert.deepEqual(a.test.x, b.test.x);
    assert.notDeepEqual(a.train.x, c.train.x);
    assert.deepEqual([a.train.count, a.val.count, a.test.count], [35, 5, 10]);
  });

  it('puts every sample in exactly one split', async () => {
    const s = await loadDataset('regression-1d', { seed: 4, count: 40, valFraction: 0.25, testFraction: 0.25 });
    const all = (await loadDataset('regression-1d', { seed: 4, count: 40, valFraction: 0, testFraction: 0 })).train;
    const seen = [...s.train.x, ...s.val.x, ...s.test.x].sort((p, q) => p - q);
    assert.deepEqual(seen, [...all.x].sort((p, q) => p - q));
    assert.deepEqual([s.train.count, s.val.count, s.test.count], [20, 10, 10]);
  });

  it('caps each split with limit', async () => {
    const s = await loadDataset('synthetic-images', { count: 30, height: 4, width: 4, limit: 3 });
    assert.deepEqual([s.train.count, s.val.count, s.test.count], [3, 3, 3]);
    assert.deepEqual(s.train.inputShape, [4, 4, 3]);
  });

  it('gives toy-1d as all 13 points in every split', async () => {
    const s = await loadDataset('toy-1d', { seed: 99 });
    for (const split of [s.train, s.val, s.test]) {
      assert.equal(split.count, 13);
      assert.equal(split.x[0], -3);
      assert.equal(split.x[12], 3);
    }
  });

  it('lists the known ids for an unknown id', async () => {
    await assert.rejects(loadDataset('mnsit'), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_DATA_READ'));
      assert.deepEqual(e.details['known'], ['blobs', 'fashion-mnist', 'mnist', 'regression-1d', 'spirals', 'synthetic-images', 'toy-1d']);
      assert.match(e.message, /Unknown data set "mnsit" \(known: blobs, fashion-mnist, mnist/);
      return true;
    });
  });

  it('rejects options that do not apply or are out of range', async () => {
    await assert.rejects(loadDataset('spirals', { dims: 3 }), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_OPTIONS_INVALID'));
      assert.deepEqual(e.details['options'], ['dims']);
      return true;
    });
    await assert.rejects(loadDataset('blobs', { valFraction: 1.5 }), (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'));
    await assert.rejects(
      loadDataset('blobs', { count: 3, valFraction: 0.5, testFraction: 0.5 }),
      (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID') && /no training samples/.test(e.message),
    );
  });

  it('lists every embedded data set with its task, shape and classes', () => {
    const list = listDatasets();
    assert.deepEqual(
      list.map((d) => d.id),
      ['blobs', 'fashion-mnist', 'mnist', 'regression-1d', 'spirals', 'synthetic-images', 'toy-1d'],
    );
    const fashion = list.find((d) => d.id === 'fashion-mnist');
    assert.deepEqual([fashion?.count, fashion?.classes, fashion?.inputShape], [70000, 10, [28, 28, 1]]);
    const mnist = list.find((d) => d.id === 'mnist');
    assert.deepEqual(mnist?.inputShape, [28, 28, 1]);
    assert.equal(mnist?.classes, 10);
    const toy = list.find((d) => d.id === 'toy-1d');
    assert.equal(toy?.task, 'regression');
    assert.equal(toy?.classes, undefined);
    assert.equal(toy?.count, 13);
  });

  it('uses every sample of a file as given, or the split asked for, and says which', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'given.json');
      // 46 samples, sorted by class as files often are.
      const x = Array.from({ length: 46 }, (_, i) => [i, i % 7]);
      writeFileSync(file, JSON.stringify({ x, y: x.map((_, i) => (i < 23 ? 0 : 1)) }));
      const all = await loadSamples(file);
      assert.deepEqual([all.split, all.samples, all.available, all.total], ['all', 46, 46, 46]);
      assert.deepEqual(Array.from(all.data.x.subarray(0, 4)), [0, 0, 1, 1], 'in file order');
      assert.equal(all.description, `46 samples: all samples of ${file}`);

      const { info } = await loadDatasetWithInfo(file);
      assert.deepEqual(info.counts, { train: 32, val: 5, test: 9 });
      assert.equal(info.method, 'shuffled');
      assert.match(info.description, /^train 32, val 5, test 9 of 46 samples \(no own test split: a seeded shuffle \(seed 0\) gives 0\.2 to test and 0\.1 to val\)$/);
      const train = await loadSamples(file, { split: 'train' });
      assert.deepEqual([train.samples, train.total], [32, 46]);
      assert.match(train.description, /^32 samples: train split of .*given\.json: train 32, val 5, test 9 of 46/);
      assert.equal((await loadSamples(file, { split: 'test' })).samples, 9);

      const some = await loadSamples(file, { samples: 10, seed: 3 });
      assert.deepEqual([some.samples, some.available], [10, 46]);
      const firsts = Array.from({ length: 10 }, (_, k) => some.data.x[2 * k] as number);
      assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), 'the subset keeps file order');
      assert.ok(new Set(some.data.y).size === 2, 'a random subset, not the first 10 (all class 0)');
      assert.deepEqual((await loadSamples(file, { samples: 10, seed: 3 })).data.x, some.data.x);
      assert.match(some.description, /^10 of 46 samples \(seeded subset, seed 3\)/);

      const withTest = join(dir, 'with-test.json');
      writeFileSync(withTest, JSON.stringify({ x: [[1], [2], [3]], y: [0, 1, 0], test: { x: [[4]], y: [1] } }));
      const both = await loadSamples(withTest);
      assert.deepEqual(Array.from(both.data.x), [1, 2, 3, 4]);
      assert.match(both.description, /3 training \+ 1 of its own test split/);
      assert.equal((await loadDatasetWithInfo(withTest, { valFraction: 0.34 })).info.method, 'own-test');
      assert.equal((await loadSamples('toy-1d')).samples, 13);
      await assert.rejects(loadSamples(file, { split: 'everything' as 'all' }), (e: unknown) => NasError.is(e, 'E_USAGE'));
    } finally {
      cleanup();
    }
  });
});
