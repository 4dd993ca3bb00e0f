import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { findIdxFiles, loadIdxPair } from './idx-loader.js';
import { loadDataset } from './load-dataset.js';
import { assertDataError, idxBytes, tempDir, writeIdxPair } from './test-files.js';

describe('IDX loader', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  it('reads an image/label pair as HWC floats in [0, 1] with its labels', () => {
    const f = writeIdxPair(dir, 'train', 2, 3, [3, 0, 9]);
    const ds = loadIdxPair(f.images, f.labels);
    assert.deepEqual(ds.inputShape, [2, 3, 1]);
    assert.equal(ds.count, 3);
    assert.equal(ds.targetSize, 10);
    assert.deepEqual(Array.from(ds.y), [3, 0, 9]);
    // image 1, pixel 4 = (7·1 + 4) / 255
    assert.ok(Math.abs((ds.x[6 + 4] as number) - 11 / 255) < 1e-7);
  });

  it('reads gzip files the same as raw ones', () => {
    const { dir: gzDir, cleanup: done } = tempDir();
    try {
      const raw = writeIdxPair(dir, 'train', 2, 3, [1, 2]);
      const gz = writeIdxPair(gzDir, 'train', 2, 3, [1, 2], true);
      assert.deepEqual(loadIdxPair(gz.images, gz.labels).x, loadIdxPair(raw.images, raw.labels).x);
    } finally {
      done();
    }
  });

  it('names the file and offset 0 for a bad magic number', () => {
    const f = writeIdxPair(dir, 'train', 2, 2, [1]);
    const bytes = readFileSync(f.images);
    bytes[0] = 0x12;
    writeFileSync(f.images, bytes);
    assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.images, 0);
  });

  it('names the offset of the first incomplete record of a truncated file', () => {
    const f = writeIdxPair(dir, 'train', 2, 2, [1, 2, 3]);
    const bytes = readFileSync(f.images);
    // header 16 bytes, records of 4: cut inside record 2 (bytes 24..27)
    writeFileSync(f.images, bytes.subarray(0, 26));
    const e = assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.images, 24);
    assert.equal(e.details['record'], 2);
  });

  it('reports a truncated header at the end of the file', () => {
    const f = writeIdxPair(dir, 'train', 2, 2, [1]);
    writeFileSync(f.images, readFileSync(f.images).subarray(0, 9));
    assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.images, 9);
  });

  it('reports trailing bytes after the last record', () => {
    const f = writeIdxPair(dir, 'train', 2, 2, [1]);
    writeFileSync(f.images, Buffer.concat([readFileSync(f.images), Buffer.from([1, 2])]));
    assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.images, 20);
  });

  it('names the offset of a label out of range', () => {
    const f = writeIdxPair(dir, 'train', 2, 2, [1, 2, 10, 4]);
    const e = assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.labels, 8 + 2);
    assert.equal(e.details['label'], 10);
    assert.equal(loadIdxPair(f.images, f.labels, { classes: 11 }).count, 4);
  });

  it('reports a label count that differs from the image count at offset 4 of the label file', () => {
    const f = writeIdxPair(dir, 'train', 2, 2, [1, 2]);
    writeFileSync(f.labels, idxBytes([3], [1, 2, 3]));
    assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.labels, 4);
  });

  it('reports a truncated gzip file at its decompressed offset', () => {
    const { dir: gzDir, cleanup: done } = tempDir();
    try {
      const f = writeIdxPair(gzDir, 'train', 8, 8, Array.from({ length: 50 }, (_, i) => i % 10), true);
      const gz = readFileSync(f.images);
      const cut = gz.subarray(0, gz.length >> 1);
      writeFileSync(f.images, cut);
      const decoded = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }).length;
      assert.ok(decoded > 16 && decoded < 16 + 50 * 64, `decoded ${decoded} bytes`);
      const expected = 16 + Math.floor((decoded - 16) / 64) * 64;
      const e = assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_INVALID', f.images, expected);
      assert.equal(e.details['gzipped'], true);
    } finally {
      done();
    }
  });

  it('reports a corrupt gzip stream as E_DATA_READ naming the file', () => {
    const { dir: gzDir, cleanup: done } = tempDir();
    try {
      const f = writeIdxPair(gzDir, 'train', 2, 2, [1], true);
      const bytes = readFileSync(f.images);
      bytes[bytes.length - 6] = (bytes[bytes.length - 6] as number) ^ 0xff; // CRC32
      writeFileSync(f.images, bytes);
      const n = bytes.length;
      assertDataError(() => loadIdxPair(f.images, f.labels), 'E_DATA_READ', f.images, [n - 8, n - 1]);
    } finally {
      done();
    }
  });

  it('finds train and t10k files in a directory and uses t10k as the test split', async () => {
    const { dir: d, cleanup: done } = tempDir();
    try {
      writeIdxPair(d, 'train', 4, 4, Array.from({ length: 20 }, (_, i) => i % 10));
      writeIdxPair(d, 't10k', 4, 4, [5, 6, 7], true);
      const found = findIdxFiles(d);
      assert.equal(found?.testImages, join(d, 't10k-images-idx3-ubyte.gz'));
      const splits = await loadDataset(d, { valFraction: 0.25, seed: 3 });
      assert.equal(splits.test.count, 3);
      assert.deepEqual([...splits.test.y].sort(), [5, 6, 7]);
      assert.equal(splits.val.count, 5);
      assert.equal(splits.train.count, 15);
      assert.deepEqual(splits.train.inputShape, [4, 4, 1]);
    } finally {
      done();
    }
  });

  it('gives Fashion-MNIST class names to a directory named fashion*', async () => {
    const { dir: d, cleanup: done } = tempDir();
    try {
      const fashion = join(d, 'fashion-mnist');
      mkdirSync(fashion);
      writeIdxPair(fashion, 'train', 2, 2, [0, 9, 3, 4]);
      const splits = await loadDataset(fashion, { valFraction: 0 });
      assert.equal(splits.train.classNames?.[9], 'Ankle boot');
    } finally {
      done();
    }
  });
});
