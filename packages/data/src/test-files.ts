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


/** How {@link npyBytes} writes an array. */
export interface NpyWriteOptions {
  /** Header `fortran_order`; the values are then written column-major (default false). */
  readonly fortran?: boolean;
  /** Format major version 1 (uint16 header length) or 2 (uint32); default 1. */
  readonly version?: 1 | 2;
  /** Write big-endian (`>` in descr) instead of little-endian. */
  readonly bigEndian?: boolean;
}

const NPY_WRITERS: Record<string, { size: number; set: (v: DataView, at: number, x: number, le: boolean) => void }> = {
  b1: { size: 1, set: (v, at, x) => v.setUint8(at, x ? 1 : 0) },
  u1: { size: 1, set: (v, at, x) => v.setUint8(at, x) },
  i1: { size: 1, set: (v, at, x) => v.setInt8(at, x) },
  i2: { size: 2, set: (v, at, x, le) => v.setInt16(at, x, le) },
  i4: { size: 4, set: (v, at, x, le) => v.setInt32(at, x, le) },
  i8: { size: 8, set: (v, at, x, le) => v.setBigInt64(at, BigInt(x), le) },
  f4: { size: 4, set: (v, at, x, le) => v.setFloat32(at, x, le) },
  f8: { size: 8, set: (v, at, x, le) => v.setFloat64(at, x, le) },
};

/**
 * Bytes of a .npy file written by hand, the way numpy.lib.format does: magic, version, header length, the header
 * dict padded with spaces to a multiple of 64 bytes and ended by a newline, then the elements. `values` are given in
 * C order and written in the file's order. `code` is the descr without its byte-order character (`f4`, `u1`, …).
 */
export function npyBytes(code: string, shape: readonly number[], values: readonly number[], options: NpyWriteOptions = {}): Uint8Array {
  const writer = NPY_WRITERS[code];
  assert.ok(writer !== undefined, `no writer for ${code}`);
  const order = writer.size === 1 ? '|' : options.bigEndian === true ? '>' : '<';
  const fortran = options.fortran === true;
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  const dict = `{'descr': '${order}${code}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const version = options.version ?? 1;
  const prefix = version === 1 ? 10 : 12;
  const headerLength = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  const out = new Uint8Array(prefix + headerLength + values.length * writer.size);
  const view = new DataView(out.buffer);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.set(Buffer.from(header, 'latin1'), prefix);
  // C-order index k → file position: itself, or its column-major position for Fortran order.
  const position = (k: number): number => {
    if (!fortran) return k;
    let rest = k;
    const index = shape.map(() => 0);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d] = rest % (shape[d] as number);
      rest = Math.floor(rest / (shape[d] as number));
    }
    let pos = 0;
    let stride = 1;
    for (let d = 0; d < shape.length; d++) {
      pos += (index[d] as number) * stride;
      stride *= shape[d] as number;
    }
    return pos;
  };
  values.forEach((x, k) => writer.set(view, prefix + headerLength + position(k) * writer.size, x, options.bigEndian !== true));
  return out;
}
