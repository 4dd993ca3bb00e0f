import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { NasError } from '@mitosis/core';
import { loadDataset } from './load-dataset.js';
import { loadNpyDataset, loadNpzDataset } from './numpy-loader.js';
import { npyBytes, tempDir } from './test-files.js';

/** True when `python3 -c 'import numpy'` works here (the cross-check test needs it). */
function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** The NasError with `code` that `fn` throws. */
function failure(fn: () => unknown, code: 'E_DATA_INVALID' | 'E_DATA_READ' | 'E_DATA_MISSING'): NasError {
  try {
    fn();
  } catch (e) {
    assert.ok(NasError.is(e, code), String(e));
    return e;
  }
  assert.fail('expected an error');
}

/** 6 images of 2×2×1: pixel p of image i is 10i + p. */
const images = Array.from({ length: 24 }, (_, k) => 10 * Math.floor(k / 4) + (k % 4));
const labels = [0, 1, 2, 0, 1, 2];
const oneHot = labels.flatMap((l) => [0, 1, 2].map((c) => (c === l ? 1 : 0)));

describe('NumPy data sets', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  const npz = (name: string, arrays: Record<string, Uint8Array>, level: 0 | 6): string => {
    const file = join(dir, name);
    const members = Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, v]));
    writeFileSync(file, zipSync(members, { level }));
    return file;
  };

  it('reads a stored .npz (np.savez) of NHWC float32 images and int64 labels', () => {
    const file = npz('stored.npz', { x: npyBytes('f4', [6, 2, 2, 1], images), y: npyBytes('i8', [6], labels) }, 0);
    const { train, test } = loadNpzDataset(file);
    assert.equal(test, undefined);
    assert.equal(train.name, 'stored');
    assert.equal(train.task, 'classification');
    assert.deepEqual(train.inputShape, [2, 2, 1]);
    assert.equal(train.count, 6);
    assert.equal(train.targetSize, 3);
    assert.deepEqual(Array.from(train.x), images);
    assert.deepEqual(Array.from(train.y), labels);
  });

  it('reads a deflated .npz (np.savez_compressed) with Keras names, one-hot labels and its own test split', () => {
    const file = npz(
      'keras.npz',
      {
        x_train: npyBytes('f8', [6, 4], images),
        y_train: npyBytes('f4', [6, 3], oneHot),
        x_test: npyBytes('f8', [2, 4], images.slice(0, 8)),
        y_test: npyBytes('f4', [2, 3], oneHot.slice(0, 6)),
      },
      6,
    );
    const { train, test } = loadNpzDataset(file);
    assert.deepEqual(train.inputShape, [4]);
    assert.deepEqual(Array.from(train.y), labels);
    assert.equal(train.targetSize, 3);
    assert.deepEqual(Array.from(test?.y ?? []), [0, 1]);
    assert.deepEqual(Array.from(test?.x ?? []), images.slice(0, 8));
  });

  it('scales uint8 inputs to [0, 1], reads (n, 1) and bool labels, and float targets as regression', () => {
    const u8 = loadNpzDataset(npz('u8.npz', { x: npyBytes('u1', [2, 2], [0, 255, 51, 102]), y: npyBytes('u1', [2, 1], [1, 0]) }, 6)).train;
    assert.deepEqual(Array.from(u8.x), [0, 1, 0.2, 0.4].map((v) => Math.fround(v)));
    assert.equal(u8.task, 'classification');
    assert.deepEqual(Array.from(u8.y), [1, 0]);
    const flags = loadNpzDataset(npz('bool.npz', { x: npyBytes('i4', [3, 1], [1, 2, 3]), y: npyBytes('b1', [3], [1, 0, 1]) }, 0)).train;
    assert.deepEqual([flags.task, flags.targetSize, Array.from(flags.y)], ['classification', 2, [1, 0, 1]]);
    const reg = loadNpzDataset(npz('reg.npz', { x: npyBytes('f4', [2, 1], [1, 2]), y: npyBytes('f8', [2, 2], [0.5, -1, 2, 3]) }, 0)).train;
    assert.deepEqual([reg.task, reg.targetSize, Array.from(reg.y)], ['regression', 2, [0.5, -1, 2, 3]]);
  });

  it('reads Fortran-ordered arrays in the right order', () => {
    const file = npz('fortran.npz', { x: npyBytes('f4', [6, 2, 2, 1], images, { fortran: true }), y: npyBytes('i4', [6], labels) }, 6);
    assert.deepEqual(Array.from(loadNpzDataset(file).train.x), images);
  });

  it('reads a directory of .npy arrays, given as the directory or as x.npy', async () => {
    const npyDir = join(dir, 'arrays');
    mkdirSync(npyDir);
    writeFileSync(join(npyDir, 'x.npy'), npyBytes('f4', [6, 2, 2, 1], images));
    writeFileSync(join(npyDir, 'y.npy'), npyBytes('i8', [6], labels));
    assert.deepEqual(Array.from(loadNpyDataset(npyDir).train.y), labels);
    assert.deepEqual(Array.from(loadNpyDataset(join(npyDir, 'x.npy')).train.x), images);
    const splits = await loadDataset(npyDir, { valFraction: 0.2, testFraction: 0.2 });
    assert.equal(splits.train.count + splits.val.count + splits.test.count, 6);
    const lone = join(dir, 'features.npy');
    writeFileSync(lone, npyBytes('f4', [2], [1, 2]));
    assert.match(failure(() => loadNpyDataset(lone), 'E_DATA_READ').message, /one \.npy file holds one array/);
  });

  it('rejects one-hot rows that are not one-hot with the row as a JSON pointer', () => {
    const bad = oneHot.slice();
    bad[4 * 3 + 0] = 1; // row 4 = [1, 1, 0]
    const file = npz('bad-onehot.npz', { x: npyBytes('f4', [6, 4], images), y: npyBytes('f4', [6, 3], bad) }, 6);
    const e = failure(() => loadNpzDataset(file), 'E_DATA_INVALID');
    assert.deepEqual([e.details['file'], e.details['field'], e.details['pointer']], [file, 'y', '/y/4']);
    assert.match(e.message, /row 4 \(\/y\/4\) must be a one-hot row with exactly one 1, has 2/);
    const none = oneHot.slice();
    none[0] = 0; // row 0 = [0, 0, 0]
    const empty = npz('zero-row.npz', { x: npyBytes('f4', [6, 4], images), y: npyBytes('f4', [6, 3], none) }, 0);
    assert.equal(failure(() => loadNpzDataset(empty), 'E_DATA_INVALID').details['pointer'], '/y/0');
  });

  it('names the file and array for missing, unexpected and mismatched arrays', () => {
    const x = npyBytes('f4', [6, 4], images);
    const missing = failure(() => loadNpzDataset(npz('no-y.npz', { x }, 0)), 'E_DATA_MISSING');
    assert.equal(missing.details['field'], 'y');
    assert.match(missing.message, /array "y" is missing \(found "x"\)/);
    const extra = failure(() => loadNpzDataset(npz('extra.npz', { x, y: npyBytes('i4', [6], labels), x_val: x }, 0)), 'E_DATA_INVALID');
    assert.deepEqual(extra.details['unexpected'], ['x_val']);
    const count = failure(() => loadNpzDataset(npz('count.npz', { x, y: npyBytes('i4', [5], labels.slice(0, 5)) }, 0)), 'E_DATA_INVALID');
    assert.equal(count.details['field'], 'y');
    assert.match(count.message, /array "y" has 5 samples but "x" has 6/);
    const testShape = failure(
      () => loadNpzDataset(npz('test-shape.npz', { x, y: npyBytes('i4', [6], labels), x_test: npyBytes('f4', [1, 3], [1, 2, 3]), y_test: npyBytes('i4', [1], [0]) }, 0)),
      'E_DATA_INVALID',
    );
    assert.equal(testShape.details['field'], 'x_test');
  });

  it('reports a truncated member with the archive, member and byte offset, and a file that is not a zip', () => {
    const y = npyBytes('i4', [6], labels);
    const file = npz('truncated.npz', { x: npyBytes('f4', [6, 4], images), y: y.subarray(0, y.length - 8) }, 6);
    const e = failure(() => loadNpzDataset(file), 'E_DATA_INVALID');
    assert.deepEqual([e.details['file'], e.details['field'], e.details['member'], e.details['offset']], [file, 'y', 'y.npy', 128 + 4 * 4]);
    const notZip = join(dir, 'not-a-zip.npz');
    writeFileSync(notZip, npyBytes('f4', [2], [1, 2]));
    assert.equal(failure(() => loadNpzDataset(notZip), 'E_DATA_READ').details['file'], notZip);
  });

  it('fits the samples to the network input shape, or says why not', async () => {
    const file = npz('fit.npz', { x: npyBytes('f4', [6, 2, 2], images), y: npyBytes('i4', [6], labels) }, 0);
    const splits = await loadDataset(file, { inputShape: [2, 2, 1] });
    assert.deepEqual(splits.train.inputShape, [2, 2, 1]);
    const flat = await loadDataset(file, { inputShape: [4] });
    assert.deepEqual(flat.test.inputShape, [4]);
    await assert.rejects(loadDataset(file, { inputShape: [3, 3, 1] }), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_SHAPE_MISMATCH'));
      assert.equal(e.details['file'], file);
      assert.deepEqual(e.details['inputShape'], [2, 2]);
      return true;
    });
    const chw = npz('chw.npz', { x: npyBytes('f4', [1, 3, 2, 2], images.slice(0, 12)), y: npyBytes('i4', [1], [0]) }, 0);
    await assert.rejects(loadDataset(chw, { inputShape: [2, 2, 3] }), /look channels-first/);
  });

  it('reads .npy and .npz files written by numpy itself', { skip: hasNumpy() ? false : 'python3 with numpy is not available' }, () => {
    const script = `
import numpy as np, sys
d = sys.argv[1]
x = (np.arange(2 * 3 * 2 * 2, dtype=np.float32) / 4).reshape(2, 3, 2, 2)
y = np.eye(3, dtype=np.float32)[[2, 0]]
np.savez(d + '/saved.npz', x=x, y=y)
np.savez_compressed(d + '/compressed.npz', x_train=x.astype(np.float64), y_train=np.array([2, 0], dtype=np.int64),
                    x_test=np.asfortranarray(x[:1].astype(np.uint8)), y_test=np.array([1], dtype=np.int32))
np.save(d + '/x.npy', np.asfortranarray(x))
np.save(d + '/y.npy', np.array([True, False]))
`;
    const out = join(dir, 'numpy');
    mkdirSync(out);
    execFileSync('python3', ['-c', script, out], { timeout: 60_000 });
    const expected = Array.from({ length: 24 }, (_, k) => k / 4);
    const saved = loadNpzDataset(join(out, 'saved.npz')).train;
    assert.deepEqual(saved.inputShape, [3, 2, 2]);
    assert.deepEqual(Array.from(saved.x), expected);
    assert.deepEqual(Array.from(saved.y), [2, 0]);
    const compressed = loadNpzDataset(join(out, 'compressed.npz'));
    assert.deepEqual(Array.from(compressed.train.x), expected);
    assert.deepEqual(Array.from(compressed.train.y), [2, 0]);
    assert.deepEqual(Array.from(compressed.test?.x ?? []), expected.slice(0, 12).map((v) => Math.fround(Math.floor(v) / 255)));
    assert.deepEqual(Array.from(compressed.test?.y ?? []), [1]);
    const npyDir = loadNpyDataset(join(out, 'x.npy')).train;
    assert.deepEqual(Array.from(npyDir.x), expected);
    assert.deepEqual(Array.from(npyDir.y), [1, 0]);
  });
});
