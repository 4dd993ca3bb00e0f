import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findCifarFiles, parseCifarBatch } from './cifar-loader.js';
import { loadDataset } from './load-dataset.js';
import { assertDataError, cifarRecord, tempDir, writeRecords } from './test-files.js';

describe('CIFAR loader', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  it('converts CHW records to HWC floats in [0, 1] and keeps the label', () => {
    const file = join(dir, 'one.bin');
    writeRecords(file, [cifarRecord([7], 0), cifarRecord([2], 50)]);
    const ds = parseCifarBatch(file, 'cifar10');
    assert.deepEqual(ds.inputShape, [32, 32, 3]);
    assert.deepEqual(Array.from(ds.y), [7, 2]);
    for (const [sample, seed] of [
      [0, 0],
      [1, 50],
    ] as const) {
      for (const [row, col, c] of [
        [0, 0, 0],
        [0, 1, 2],
        [5, 17, 1],
        [31, 31, 2],
      ] as const) {
        const p = row * 32 + col;
        const got = ds.x[sample * 3072 + p * 3 + c] as number;
        assert.ok(Math.abs(got - ((seed + 3 * p + 101 * c) % 256) / 255) < 1e-7, `sample ${sample} (${row},${col},${c})`);
      }
    }
  });

  it('keeps the fine label of CIFAR-100 records', () => {
    const file = join(dir, 'c100.bin');
    writeRecords(file, [cifarRecord([3, 42], 1), cifarRecord([19, 99], 2)]);
    const ds = parseCifarBatch(file, 'cifar100');
    assert.equal(ds.targetSize, 100);
    assert.deepEqual(Array.from(ds.y), [42, 99]);
  });

  it('names the file and the start offset of a truncated record', () => {
    const file = join(dir, 'trunc.bin');
    writeRecords(file, [cifarRecord([1], 0), cifarRecord([2], 0), cifarRecord([3], 0).subarray(0, 100)]);
    const e = assertDataError(() => parseCifarBatch(file, 'cifar10'), 'E_DATA_INVALID', file, 2 * 3073);
    assert.equal(e.details['record'], 2);
  });

  it('names the offset of a label out of range', () => {
    const file = join(dir, 'label.bin');
    writeRecords(file, [cifarRecord([1], 0), cifarRecord([10], 0)]);
    assertDataError(() => parseCifarBatch(file, 'cifar10'), 'E_DATA_INVALID', file, 3073);
    const c100 = join(dir, 'label100.bin');
    writeRecords(c100, [cifarRecord([1, 1], 0), cifarRecord([2, 2], 0), cifarRecord([4, 100], 0)]);
    assertDataError(() => parseCifarBatch(c100, 'cifar100'), 'E_DATA_INVALID', c100, 2 * 3074 + 1);
    writeRecords(c100, [cifarRecord([20, 1], 0)]);
    assertDataError(() => parseCifarBatch(c100, 'cifar100'), 'E_DATA_INVALID', c100, 0);
  });

  it('rejects an empty batch at offset 0', () => {
    const file = join(dir, 'empty.bin');
    writeFileSync(file, new Uint8Array(0));
    assertDataError(() => parseCifarBatch(file, 'cifar10'), 'E_DATA_INVALID', file, 0);
  });

  it('loads a CIFAR-10 directory with its own test batch and class names', async () => {
    const root = join(dir, 'c10');
    const sub = join(root, 'cifar-10-batches-bin');
    mkdirSync(sub, { recursive: true });
    writeRecords(join(sub, 'data_batch_1.bin'), [0, 1, 2, 3, 4].map((l) => cifarRecord([l], l)));
    writeRecords(join(sub, 'data_batch_2.bin'), [5, 6, 7, 8, 9].map((l) => cifarRecord([l], l)));
    writeRecords(join(sub, 'test_batch.bin'), [cifarRecord([9], 9), cifarRecord([8], 8)]);
    const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    writeFileSync(join(sub, 'batches.meta.txt'), `${names.join('\n')}\n\n`);
    const found = findCifarFiles(root);
    assert.equal(found?.variant, 'cifar10');
    assert.deepEqual(found?.train, [join(sub, 'data_batch_1.bin'), join(sub, 'data_batch_2.bin')]);
    const splits = await loadDataset(root, { valFraction: 0.2, seed: 5 });
    assert.equal(splits.test.count, 2);
    assert.equal(splits.val.count, 2);
    assert.equal(splits.train.count, 8);
    assert.deepEqual([...splits.train.y, ...splits.val.y].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(splits.train.classNames?.[9], 'truck');
    // pixel (0, 0, channel 0) of each sample equals its label / 255 by construction
    for (let i = 0; i < splits.train.count; i++) {
      assert.ok(Math.abs((splits.train.x[i * 3072] as number) - (splits.train.y[i] as number) / 255) < 1e-7);
    }
  });

  it('loads a CIFAR-100 directory', async () => {
    const root = join(dir, 'c100');
    mkdirSync(root);
    writeRecords(join(root, 'train.bin'), [cifarRecord([0, 5], 0), cifarRecord([1, 6], 0), cifarRecord([2, 7], 0)]);
    writeRecords(join(root, 'test.bin'), [cifarRecord([0, 50], 0)]);
    const splits = await loadDataset(root, { valFraction: 0 });
    assert.equal(splits.train.targetSize, 100);
    assert.deepEqual([...splits.train.y].sort(), [5, 6, 7]);
    assert.deepEqual([...splits.test.y], [50]);
  });
});
