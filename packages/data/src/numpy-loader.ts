import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { NasError, type Dataset } from '@mitosis/core';
import { createDataset } from './dataset-ops.js';
import type { JsonDatasetParts } from './json-loader.js';
import { looksOneHot, readOneHot } from './labels.js';
import { parseNpy, type NpyArray, type NpySource } from './npy.js';
import { readDataFile } from './binary-file.js';

/**
 * The array names a NumPy data set may hold: `x` and `y` (or Keras' `x_train` and `y_train`), and optionally its
 * own test split `x_test` and `y_test`.
 */
export const NUMPY_ARRAY_NAMES = ['x', 'y', 'x_train', 'y_train', 'x_test', 'y_test'] as const;

type ArrayName = (typeof NUMPY_ARRAY_NAMES)[number];

/** A parsed array with where it came from. */
interface SourcedArray {
  readonly array: NpyArray;
  readonly src: NpySource;
}

/** The bytes of a `.npy` / `.npz` file (`E_DATA_READ` naming it when it cannot be read). */
function readBytes(file: string): Uint8Array {
  return readDataFile(file).bytes;
}

/** A problem with a whole array (no byte offset): `E_DATA_INVALID` naming the file and the array. */
function arrayError(src: NpySource, problem: string, extra: Record<string, unknown> = {}): NasError {
  return new NasError('E_DATA_INVALID', `${src.file}: array "${src.field}" ${problem}`, {
    file: src.file,
    field: src.field,
    ...(src.member === undefined ? {} : { member: src.member }),
    ...extra,
  });
}

const shapeText = (shape: readonly number[]): string => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

/** Targets of one split: class indices (`width` 1) or regression rows. */
interface Targets {
  readonly task: 'classification' | 'regression';
  readonly values: Float32Array;
  /** Regression values per sample, or the one-hot width (classes) for one-hot labels, or 1 for class indices. */
  readonly width: number;
  readonly oneHot: boolean;
}

/**
 * Reads a `y` array: `(n,)` or `(n, 1)` whole non-negative numbers are class indices (any integer or bool type, or
 * floats that are all whole); `(n, k ≥ 2)` rows of 0s and 1s are one-hot labels, each of which must hold exactly one
 * 1 (else `E_DATA_INVALID` with the JSON pointer `/y/<row>`); anything else is a regression target.
 */
function readTargets(y: SourcedArray, n: number, x: SourcedArray): Targets {
  const { array, src } = y;
  if (array.shape.length === 0 || array.shape.length > 2) {
    throw arrayError(
      src,
      `has shape ${shapeText(array.shape)}; targets must be (n,) class indices or values, or (n, k) one-hot or value rows`,
      { shape: [...array.shape] },
    );
  }
  if (array.shape[0] !== n) {
    throw arrayError(src, `has ${array.shape[0]} samples but "${x.src.field}" has ${n}`, { samples: array.shape[0], expected: n, inputs: x.src.field });
  }
  const width = array.shape.length === 2 ? (array.shape[1] as number) : 1;
  if (width === 1) {
    let indices = array.integral;
    for (let k = 0; k < array.values.length && indices; k++) indices = (array.values[k] as number) >= 0;
    return { task: indices ? 'classification' : 'regression', values: array.values, width: 1, oneHot: false };
  }
  if (!looksOneHot(array.values, width)) return { task: 'regression', values: array.values, width, oneHot: false };
  const read = readOneHot(array.values, width);
  if (read.kind === 'bad-row') {
    throw new NasError('E_DATA_INVALID', `${src.file}: array "${src.field}" row ${read.row} (/${src.field}/${read.row}) ${read.problem}`, {
      file: src.file,
      field: src.field,
      ...(src.member === undefined ? {} : { member: src.member }),
      pointer: `/${src.field}/${read.row}`,
      row: read.row,
    });
  }
  return { task: 'classification', values: read.indices, width, oneHot: true };
}

/** Inputs as float32 samples: uint8 arrays (images) are scaled to [0, 1] like the IDX and CIFAR readers do. */
function readInputs(x: SourcedArray): { values: Float32Array; shape: number[] } {
  const { array, src } = x;
  if (array.shape.length === 0 || array.shape[0] === 0) {
    throw arrayError(src, `has shape ${shapeText(array.shape)}; inputs must be (n, …) with n ≥ 1 samples`, { shape: [...array.shape] });
  }
  const values = array.values;
  if (array.dtype === 'uint8') for (let k = 0; k < values.length; k++) values[k] = (values[k] as number) / 255;
  const sample = array.shape.slice(1);
  return { values, shape: sample.length === 0 ? [1] : sample };
}

/**
 * Builds the train (and own test) data sets from named arrays: `x`/`y` or `x_train`/`y_train`, and optionally
 * `x_test`/`y_test`. `name` names the data sets; errors name `file` and the array.
 */
function datasetFromArrays(arrays: ReadonlyMap<string, SourcedArray>, file: string, name: string): JsonDatasetParts {
  const names = [...arrays.keys()];
  const unknown = names.filter((k) => !(NUMPY_ARRAY_NAMES as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new NasError(
      'E_DATA_INVALID',
      `${file}: unexpected array${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (a NumPy data set holds x and y, or x_train and y_train, and optionally x_test and y_test)`,
      { file, arrays: names, unexpected: unknown },
    );
  }
  const has = (k: ArrayName) => arrays.has(k);
  if (has('x') && has('x_train')) {
    throw new NasError('E_DATA_INVALID', `${file}: holds both "x" and "x_train"; keep one of them`, { file, arrays: names });
  }
  const [xKey, yKey]: [ArrayName, ArrayName] = has('x_train') || has('y_train') ? ['x_train', 'y_train'] : ['x', 'y'];
  const pairs: [ArrayName, ArrayName][] = [[xKey, yKey], ['x_test', 'y_test']];
  for (const [xk, yk] of pairs) {
    if (has(xk) !== has(yk) || (xk === xKey && !has(xk))) {
      const missing = has(xk) ? yk : xk;
      const found = names.length === 0 ? 'no arrays' : names.map((k) => `"${k}"`).join(', ');
      throw new NasError('E_DATA_MISSING', `${file}: array "${missing}" is missing (found ${found})`, {
        file,
        field: missing,
        arrays: names,
      });
    }
  }
  const trainX = arrays.get(xKey) as SourcedArray;
  const trainInputs = readInputs(trainX);
  const n = trainX.array.shape[0] as number;
  const trainY = readTargets(arrays.get(yKey) as SourcedArray, n, trainX);
  const testX = arrays.get('x_test');
  let test: { inputs: { values: Float32Array; shape: number[] }; targets: Targets } | undefined;
  if (testX !== undefined) {
    const inputs = readInputs(testX);
    if (inputs.shape.length !== trainInputs.shape.length || inputs.shape.some((d, i) => d !== trainInputs.shape[i])) {
      throw arrayError(testX.src, `has samples of shape ${shapeText(inputs.shape)} but "${xKey}" has ${shapeText(trainInputs.shape)}`, {
        shape: inputs.shape,
        expected: trainInputs.shape,
      });
    }
    const targets = readTargets(arrays.get('y_test') as SourcedArray, testX.array.shape[0] as number, testX);
    if (targets.task !== trainY.task || targets.oneHot !== trainY.oneHot || targets.width !== trainY.width) {
      const what = (t: Targets): string =>
        t.task === 'regression'
          ? `regression targets of width ${t.width}`
          : t.oneHot
            ? `one-hot labels of ${t.width} classes`
            : 'class indices';
      throw arrayError((arrays.get('y_test') as SourcedArray).src, `holds ${what(targets)} but "${yKey}" holds ${what(trainY)}`);
    }
    test = { inputs, targets };
  }
  const task = trainY.task;
  let targetSize = trainY.width;
  if (task === 'classification' && !trainY.oneHot) {
    let max = 0;
    for (const t of [trainY, test?.targets]) if (t !== undefined) for (const v of t.values) if (v > max) max = v;
    targetSize = max + 1;
  }
  const build = (inputs: { values: Float32Array; shape: number[] }, targets: Targets): Dataset =>
    createDataset({ name, task, inputShape: inputs.shape, targetSize, x: inputs.values, y: targets.values });
  return {
    train: build(trainInputs, trainY),
    ...(test === undefined ? {} : { test: build(test.inputs, test.targets) }),
  };
}

/**
 * Reads a NumPy `.npz` archive (`np.savez` stores its arrays, `np.savez_compressed` deflates them; both are read,
 * with fflate) holding `x` and `y` (or `x_train`/`y_train`) and optionally `x_test`/`y_test`. `x` is `(n, …)` shaped
 * like one input (`(n, h, w, c)` images, `(n, features)` rows); uint8 inputs are scaled to [0, 1]. `y` is `(n,)` class
 * indices, `(n, k)` one-hot rows, or regression values. Throws `E_DATA_READ` when the file cannot be read or is not a
 * zip archive, and `E_DATA_INVALID` naming the file and the array (and the byte offset or JSON pointer) otherwise.
 */
export function loadNpzDataset(file: string): JsonDatasetParts {
  const bytes = readBytes(file);
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (cause) {
    throw new NasError(
      'E_DATA_READ',
      `${file} is not a readable .npz (zip) archive: ${(cause as Error).message} (remedy: write it again with np.savez)`,
      { file },
      { cause },
    );
  }
  const arrays = new Map<string, SourcedArray>();
  for (const [member, data] of Object.entries(members)) {
    if (member.endsWith('/')) continue;
    if (!member.endsWith('.npy')) {
      throw new NasError('E_DATA_INVALID', `${file}: member "${member}" is not a .npy array (an .npz holds only NAME.npy members)`, { file, member });
    }
    const field = member.slice(0, -'.npy'.length);
    const src: NpySource = { file, field, member };
    arrays.set(field, { array: parseNpy(data, src), src });
  }
  return datasetFromArrays(arrays, file, basename(file).replace(/\.npz$/i, ''));
}

/** True when `dir` holds `x.npy` or `x_train.npy` (a directory of NumPy arrays). */
export function isNpyDirectory(dir: string): boolean {
  return existsSync(join(dir, 'x.npy')) || existsSync(join(dir, 'x_train.npy'));
}

/**
 * Reads a directory of `.npy` files named like the arrays of an `.npz` (`x.npy` and `y.npy`, or `x_train.npy` and
 * `y_train.npy`, optionally `x_test.npy` and `y_test.npy`; other `.npy` files are an error). `path` may also be one
 * of those files, which stands for its directory. Errors as {@link loadNpzDataset}.
 */
export function loadNpyDataset(path: string): JsonDatasetParts {
  let dir = path;
  if (!statSync(path).isDirectory()) {
    const stem = basename(path).replace(/\.npy$/i, '');
    if (!(NUMPY_ARRAY_NAMES as readonly string[]).includes(stem)) {
      throw new NasError(
        'E_DATA_READ',
        `${path}: one .npy file holds one array; give x.npy and y.npy in one directory (and pass the directory), or both arrays in one file with np.savez`,
        { file: path },
      );
    }
    dir = dirname(path);
  }
  const arrays = new Map<string, SourcedArray>();
  for (const entry of readdirSync(dir).sort()) {
    if (!/\.npy$/i.test(entry)) continue;
    const file = join(dir, entry);
    const field = entry.replace(/\.npy$/i, '');
    const src: NpySource = { file, field };
    arrays.set(field, { array: parseNpy(readBytes(file), src), src });
  }
  return datasetFromArrays(arrays, dir, basename(dir));
}

