import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { NasError } from '@mitosis/core';

/** Helpers that write small data files for this package's tests (not exported from the package). */

/** A fresh temporary directory and a function that removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mitosis-data-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bytes of a ubyte IDX file with the given dimensions and values. */
export function idxBytes(dims: readonly number[], values: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + values.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(values), header);
  return out;
}

/** `n` images of `h × w` whose pixel `p` of image `i` is `(7i + p) mod 256`, and labels `labels`. */
export function writeIdxPair(
  dir: string,
  prefix: 'train' | 't10k',
  h: number,
  w: number,
  labels: readonly number[],
  gzip = false,
): { images: string; labels: string } {
  const n = labels.length;
  const pixels = Array.from({ length: n * h * w }, (_, k) => (7 * Math.floor(k / (h * w)) + (k % (h * w))) % 256);
  const ext = gzip ? '.gz' : '';
  const images = join(dir, `${prefix}-images-idx3-ubyte${ext}`);
  const labelFile = join(dir, `${prefix}-labels-idx1-ubyte${ext}`);
  const imgBytes = idxBytes([n, h, w], pixels);
  const lblBytes = idxBytes([n], labels);
  writeFileSync(images, gzip ? gzipSync(imgBytes) : imgBytes);
  writeFileSync(labelFile, gzip ? gzipSync(lblBytes) : lblBytes);
  return { images, labels: labelFile };
}

/**
 * A CIFAR record: label byte(s), then CHW pixels where channel `c`, pixel `p` (row-major 32×32) has
 * the
 * value `(seed + 3p + 101c) mod 256`.
 */
export function cifarRecord(labels: readonly number[], seed: number): Uint8Array {
  const out = new Uint8Array(labels.length + 3072);
  out.set(labels);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 1024; p++) out[labels.length + c * 1024 + p] = (seed + 3 * p + 101 * c) % 256;
  }
  return out;
}

/** Concatenates records into one file. */
export function writeRecords(file: string, records: readonly Uint8Array[]): void {
  writeFileSync(file, Buffer.concat(records.map((r) => Buffer.from(r))));
}

/**
 * Asserts that `fn` throws a NasError with `code` whose details name `file` and `offset` (exactly,
 * or within
 * `[offset[0], offset[1]]`), and whose message repeats the offset.
 */
export function assertDataError(
  fn: () => unknown,
  code: string,
  file: string,
  offset: number | [number, number],
): NasError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(NasError.is(caught), `expected a NasError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.details['file'], file);
  const at = caught.details['offset'] as number;
  const [lo, hi] = typeof offset === 'number' ? [offset, offset] : offset;
  assert.ok(at >= lo && at <= hi, `offset ${at} not in [${lo}, ${hi}]: ${caught.message}`);
  assert.match(caught.message, new RegExp(`offset ${at}\\b`));
  return caught;
}

