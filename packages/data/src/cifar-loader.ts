import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Dataset } from '@mitosis/core';
import { dataFileError, readDataFile } from './binary-file.js';
import { createDataset } from './dataset-ops.js';

/** CIFAR image side and channels; records store them CHW (1024 red, 1024 green, 1024 blue bytes). */
const SIDE = 32;
const CHANNELS = 3;
const PIXELS = SIDE * SIDE * CHANNELS;

/** Which CIFAR binary format a file is in. */
export type CifarVariant = 'cifar10' | 'cifar100';

/**
 * Parses one CIFAR binary batch: records of `labelBytes` label bytes then 3072 pixel bytes in CHW
 * order.
 * CIFAR-10 has 1 label byte (< 10); CIFAR-100 has 2 (coarse < 20, fine < 100) and the fine label is
 * kept.
 * Pixels become HWC float32 in `[0, 1]`; inputShape `[32, 32, 3]`. Throws `E_DATA_INVALID` with
 * `{ file, offset }` for an empty file, a truncated record (its start offset) or a label out of
 * range.
 */
export function parseCifarBatch(file: string, variant: CifarVariant, classNames?: readonly string[]): Dataset {
  const src = readDataFile(file);
  const { bytes } = src;
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const recordBytes = labelBytes + PIXELS;
  if (bytes.length === 0) throw dataFileError(src, 0, 'empty CIFAR batch');
  const n = Math.floor(bytes.length / recordBytes);
  if (bytes.length % recordBytes !== 0) {
    throw dataFileError(
      src,
      n * recordBytes,
      `truncated record ${n}: ${bytes.length % recordBytes} of ${recordBytes} bytes (${variant} records are ${recordBytes} bytes)`,
      { record: n, recordBytes, fileBytes: bytes.length },
    );
  }
  const classes = variant === 'cifar10' ? 10 : 100;
  const x = new Float32Array(n * PIXELS);
  const y = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const start = r * recordBytes;
    if (variant === 'cifar100') {
      const coarse = bytes[start] as number;
      if (coarse >= 20) {
        throw dataFileError(src, start, `coarse label ${coarse} of record ${r} is out of range [0, 20)`, {
          record: r,
          label: coarse,
        });
      }
    }
    const label = bytes[start + labelBytes - 1] as number;
    if (label >= classes) {
      throw dataFileError(
        src,
        start + labelBytes - 1,
        `label ${label} of record ${r} is out of range [0, ${classes})`,
        { record: r, label },
      );
    }
    y[r] = label;
    const px = start + labelBytes;
    const out = r * PIXELS;
    for (let c = 0; c < CHANNELS; c++) {
      for (let p = 0; p < SIDE * SIDE; p++) {
        x[out + p * CHANNELS + c] = (bytes[px + c * SIDE * SIDE + p] as number) / 255;
      }
    }
  }
  return createDataset({
    name: basename(file),
    task: 'classification',
    inputShape: [SIDE, SIDE, CHANNELS],
    targetSize: classes,
    x,
    y,
    classNames,
  });
}

/** The CIFAR files found in a directory. */
export interface CifarDirectoryFiles {
  readonly variant: CifarVariant;
  readonly dir: string;
  /** `data_batch_1.bin` … in numeric order (CIFAR-10) or `train.bin` (CIFAR-100). */
  readonly train: readonly string[];
  readonly test?: string;
  readonly classNames?: readonly string[];
}

/** Class names from a text file with one per line; ignored unless there are exactly `classes` of them. */
function readNames(file: string, classes: number): string[] | undefined {
  if (!existsSync(file)) return undefined;
  const names = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return names.length === classes ? names : undefined;
}

/**
 * Finds CIFAR-10 (`data_batch_*.bin`, `test_batch.bin`, `batches.meta.txt`) or CIFAR-100
 * (`train.bin`,
 * `test.bin`, `fine_label_names.txt`) binary files in `dir`, or in its `cifar-10-batches-bin` /
 * `cifar-100-binary` subdirectory. Returns undefined when there are none.
 */
export function findCifarFiles(dir: string): CifarDirectoryFiles | undefined {
  for (const d of [dir, join(dir, 'cifar-10-batches-bin'), join(dir, 'cifar-100-binary')]) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    const names = readdirSync(d);
    const batches = names
      .map((n) => /^data_batch_(\d+)\.bin$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((m) => join(d, m[0]));
    if (batches.length > 0 || names.includes('test_batch.bin')) {
      const classNames = readNames(join(d, 'batches.meta.txt'), 10);
      return {
        variant: 'cifar10',
        dir: d,
        train: batches,
        ...(names.includes('test_batch.bin') ? { test: join(d, 'test_batch.bin') } : {}),
        ...(classNames === undefined ? {} : { classNames }),
      };
    }
    if (names.includes('train.bin')) {
      const classNames = readNames(join(d, 'fine_label_names.txt'), 100);
      return {
        variant: 'cifar100',
        dir: d,
        train: [join(d, 'train.bin')],
        ...(names.includes('test.bin') ? { test: join(d, 'test.bin') } : {}),
        ...(classNames === undefined ? {} : { classNames }),
      };
    }
  }
  return undefined;
}

/** Loads CIFAR batches (all of one variant) into one data set named `name`, in file order. */
export function loadCifarBatches(
  files: readonly string[],
  variant: CifarVariant,
  name: string,
  classNames?: readonly string[],
): Dataset {
  const parts = files.map((f) => parseCifarBatch(f, variant, classNames));
  const count = parts.reduce((a, p) => a + p.count, 0);
  const x = new Float32Array(count * PIXELS);
  const y = new Float32Array(count);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * PIXELS);
    y.set(p.y, at);
    at += p.count;
  }
  return createDataset({
    name,
    task: 'classification',
    inputShape: [SIDE, SIDE, CHANNELS],
    targetSize: variant === 'cifar10' ? 10 : 100,
    x,
    y,
    classNames,
  });
}
