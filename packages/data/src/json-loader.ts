import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  ConfigValidationError,
  NasError,
  validateAgainst,
  type ConfigProblem,
  type Dataset,
} from '@mitosis/core';
import { createDataset } from './dataset-ops.js';
import { readOneHot } from './labels.js';

/** Deepest nesting of one sample of `x`: `[h][w][c][…]`, so `x` itself is at most `[n][h][w][c][d]`. */
const MAX_SAMPLE_RANK = 4;

/** A JSON number or an array nested `depth` more times (each array non-empty). */
function nestedNumbers(depth: number): object {
  return depth === 0
    ? { type: 'number' }
    : { type: ['number', 'array'], minItems: 1, items: nestedNumbers(depth - 1) };
}

const inputSamplesSchema = { type: 'array', minItems: 1, items: nestedNumbers(MAX_SAMPLE_RANK) } as const;

const targetSamplesSchema = {
  type: 'array',
  minItems: 1,
  items: { type: ['number', 'array'], items: { type: 'number' }, minItems: 1 },
} as const;

/**
 * JSON Schema of a JSON data set file:
 * `{ "x": […], "y": […], "task"?, "inputShape"?, "classes"?, "classNames"?, "name"?, "test"?: { "x", "y" } }`.
 * `x` holds one entry per sample: a number, a flat row, or nested arrays shaped like the input (`[h][w][c]`, up to
 * four levels), as `JSON.stringify(array.tolist())` (NumPy) or `await tensor.array()` (TF.js) write them. `y` holds
 * one class index, one-hot row, or regression value (or row) per sample.
 */
export const JSON_DATASET_SCHEMA = {
  type: 'object',
  required: ['x', 'y'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    task: { type: 'string', enum: ['classification', 'regression'] },
    inputShape: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
    classes: { type: 'integer', minimum: 1 },
    classNames: { type: 'array', minItems: 1, items: { type: 'string' } },
    x: inputSamplesSchema,
    y: targetSamplesSchema,
    test: {
      type: 'object',
      required: ['x', 'y'],
      additionalProperties: false,
      properties: { x: inputSamplesSchema, y: targetSamplesSchema },
    },
  },
} as const;

/** One sample of `x`: a number or nested arrays of numbers. */
type Nested = number | Nested[];
type Sample = number | number[];

/** The document as validated by {@link JSON_DATASET_SCHEMA}. */
export interface JsonDatasetDocument {
  readonly name?: string;
  readonly task?: 'classification' | 'regression';
  readonly inputShape?: number[];
  readonly classes?: number;
  readonly classNames?: string[];
  readonly x: Nested[];
  readonly y: Sample[];
  readonly test?: { readonly x: Nested[]; readonly y: Sample[] };
}

/** A data set file's samples: its train samples and, when the file has one, its own test split. */
export interface JsonDatasetParts {
  readonly train: Dataset;
  readonly test?: Dataset;
}

/** Shape of one nested sample, following first elements (`[]` for a number). */
function nestedShape(v: Nested): number[] {
  const shape: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as Nested;
  }
  return shape;
}

/**
 * Checks that `v` (at `pointer`) has `shape` from dimension `d` on, comparing with the same place in the first
 * sample (`ref`); records the first difference and returns false.
 */
function matchesShape(v: Nested, shape: readonly number[], d: number, pointer: string, ref: string, problems: ConfigProblem[]): boolean {
  if (d === shape.length) {
    if (typeof v === 'number') return true;
    problems.push({ pointer, message: `must be a number like ${ref}` });
    return false;
  }
  if (!Array.isArray(v)) {
    problems.push({ pointer, message: `must be an array like ${ref}` });
    return false;
  }
  if (v.length !== shape[d]) {
    problems.push({ pointer, message: `must have ${shape[d]} values like ${ref}, has ${v.length}` });
    return false;
  }
  for (let i = 0; i < v.length; i++) {
    if (!matchesShape(v[i] as Nested, shape, d + 1, `${pointer}/${i}`, `${ref}/${i}`, problems)) return false;
  }
  return true;
}

/**
 * The common shape of every sample of `rows` (`[]` for numbers); records a problem at the first sample that
 * differs from the first one (and stops there).
 */
function samplesShape(rows: readonly Nested[], pointer: string, problems: ConfigProblem[]): number[] {
  const shape = nestedShape(rows[0] as Nested);
  for (let i = 1; i < rows.length; i++) {
    if (!matchesShape(rows[i] as Nested, shape, 0, `${pointer}/${i}`, `${pointer}/0`, problems)) break;
  }
  return shape;
}

/** The values of every sample, row-major, `size` values per sample. */
function flatten(rows: readonly Nested[], size: number): Float32Array {
  const out = new Float32Array(rows.length * size);
  let k = 0;
  const put = (v: Nested): void => {
    if (typeof v === 'number') out[k++] = v;
    else for (const e of v) put(e);
  };
  for (const r of rows) put(r);
  return out;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Checks a validated document's semantics (equal sample shapes, `x`/`y` lengths, inputShape size, class indices or
 * one-hot rows) and builds the data sets. `file` names the source in errors. Throws a {@link ConfigValidationError}
 * with code `E_DATA_INVALID` listing every problem with its JSON pointer (e.g. `/y/3 must be an integer class index
 * in [0, 10)`, `/y/7 must be a one-hot row with exactly one 1, has 2`).
 *
 * Labels: numbers that are all non-negative integers are class indices; rows of 0s and 1s (at least two wide) are
 * one-hot rows and are read as the index of their 1. Anything else (or `"task": "regression"`) is a regression
 * target. With `"task": "classification"`, rows must be one-hot.
 */
export function datasetFromJson(doc: unknown, file: string): JsonDatasetParts {
  const d = validateAgainst<JsonDatasetDocument>(JSON_DATASET_SCHEMA, doc, {
    source: file,
    what: 'data set',
    code: 'E_DATA_INVALID',
  });
  const problems: ConfigProblem[] = [];
  const xShape = samplesShape(d.x, '/x', problems);
  const xSize = sizeOf(xShape);
  const yShape = samplesShape(d.y, '/y', problems);
  const yWidth = sizeOf(yShape);
  const rowsY = yShape.length === 1;
  const allY = [...d.y, ...(d.test?.y ?? [])];
  const isIndex = (v: Sample) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const isBinaryRow = (v: Sample) => Array.isArray(v) && v.every((e) => e === 0 || e === 1);
  const inferred = rowsY
    ? yWidth >= 2 && allY.every(isBinaryRow)
      ? 'classification'
      : 'regression'
    : allY.every(isIndex)
      ? 'classification'
      : 'regression';
  const task = d.task ?? inferred;
  const oneHot = task === 'classification' && rowsY;
  if (d.y.length !== d.x.length) {
    problems.push({
      pointer: '/y',
      message: `must have ${d.x.length} entries like /x, has ${d.y.length}`,
    });
  }
  if (d.inputShape !== undefined && sizeOf(d.inputShape) !== xSize) {
    problems.push({
      pointer: '/inputShape',
      message: `[${d.inputShape.join(', ')}] holds ${sizeOf(d.inputShape)} values, samples of /x have ${xSize}`,
    });
  }
  let classes = 0;
  if (task === 'classification') {
    const labels = allY.filter((v): v is number => typeof v === 'number');
    classes = oneHot ? yWidth : (d.classes ?? d.classNames?.length ?? Math.max(0, ...labels.map((v) => Math.floor(v))) + 1);
    const checkLabels = (ys: readonly Sample[], pointer: string) => {
      ys.forEach((v, i) => {
        if (oneHot) {
          if (!Array.isArray(v) || v.length !== yWidth) return; // reported as a shape problem
          const row = readOneHot(v, yWidth);
          if (row.kind === 'bad-row') {
            const at = row.column === undefined ? `${pointer}/${i}` : `${pointer}/${i}/${row.column}`;
            problems.push({ pointer: at, message: row.problem.replace(/ at column \d+$/, '') });
          }
        } else if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= classes) {
          problems.push({
            pointer: `${pointer}/${i}`,
            message: `must be an integer class index in [0, ${classes})`,
          });
        }
      });
    };
    checkLabels(d.y, '/y');
    if (d.test !== undefined) checkLabels(d.test.y, '/test/y');
    if (oneHot && d.classes !== undefined && d.classes !== yWidth) {
      problems.push({ pointer: '/classes', message: `must be ${yWidth}, the width of the one-hot rows of /y` });
    }
    if (d.classNames !== undefined && d.classNames.length !== classes) {
      problems.push({
        pointer: '/classNames',
        message: `must have ${classes} names, has ${d.classNames.length}`,
      });
    }
  } else if (d.classes !== undefined || d.classNames !== undefined) {
    problems.push({
      pointer: d.classes !== undefined ? '/classes' : '/classNames',
      message: 'is only allowed for classification',
    });
  }
  if (d.test !== undefined) {
    const before = problems.length;
    const tx = samplesShape(d.test.x, '/test/x', problems);
    const ty = samplesShape(d.test.y, '/test/y', problems);
    if (problems.length === before) {
      if (tx.length !== xShape.length || tx.some((n, i) => n !== xShape[i])) {
        problems.push({ pointer: '/test/x/0', message: `must have the shape of /x/0 ([${xShape.join(', ')}], ${xSize} values)` });
      }
      if ((task === 'regression' || oneHot) && (ty.length !== yShape.length || ty.some((n, i) => n !== yShape[i]))) {
        problems.push({ pointer: '/test/y/0', message: `must have the shape of /y/0 (${yWidth} values)` });
      }
    }
    if (d.test.y.length !== d.test.x.length) {
      problems.push({
        pointer: '/test/y',
        message: `must have ${d.test.x.length} entries like /test/x, has ${d.test.y.length}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigValidationError(file, problems, 'data set', 'E_DATA_INVALID');

  const name = d.name ?? basename(file).replace(/\.json$/i, '');
  const targets = (ys: readonly Sample[]): Float32Array => {
    const flat = flatten(ys, task === 'classification' && !oneHot ? 1 : yWidth);
    if (!oneHot) return flat;
    return (readOneHot(flat, yWidth) as { indices: Float32Array }).indices;
  };
  const build = (xs: readonly Nested[], ys: readonly Sample[]) =>
    createDataset({
      name,
      task,
      inputShape: d.inputShape ?? (xShape.length === 0 ? [1] : xShape),
      targetSize: task === 'classification' ? classes : yWidth,
      x: flatten(xs, xSize),
      y: targets(ys),
      classNames: d.classNames,
    });
  return {
    train: build(d.x, d.y),
    ...(d.test === undefined ? {} : { test: build(d.test.x, d.test.y) }),
  };
}

/**
 * Reads a JSON data set file ({@link JSON_DATASET_SCHEMA}). Throws `E_DATA_READ` with `{ file }`
 * when it
 * cannot be read, or `{ file, offset? }` when it is not valid JSON (offset: the character position,
 * where
 * V8 reports one, or the end of the text for a truncated file).
 */
export function loadJsonDataset(file: string): JsonDatasetParts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NasError('E_DATA_READ', `Cannot read ${file}: ${(cause as Error).message}`, { file }, { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    const message = (cause as Error).message;
    const position = /position (\d+)/.exec(message);
    const offset =
      position !== null ? Number(position[1]) : /end of JSON/i.test(message) ? text.length : undefined;
    throw new NasError(
      'E_DATA_READ',
      `${file} is not valid JSON: ${message}`,
      offset === undefined ? { file } : { file, offset },
      { cause },
    );
  }
  return datasetFromJson(doc, file);
}
