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

const samplesSchema = {
  type: 'array',
  minItems: 1,
  items: { type: ['number', 'array'], items: { type: 'number' }, minItems: 1 },
} as const;

/**
 * JSON Schema of a JSON data set file:
 * `{ "x": [[…], …] | […], "y": […], "task"?, "inputShape"?, "classes"?, "classNames"?, "name"?,
 * "test"?: { "x", "y" } }`.
 * `x` holds one number or one flat row per sample; `y` one class index or regression value (or row)
 * per sample.
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
    x: samplesSchema,
    y: samplesSchema,
    test: {
      type: 'object',
      required: ['x', 'y'],
      additionalProperties: false,
      properties: { x: samplesSchema, y: samplesSchema },
    },
  },
} as const;

type Sample = number | number[];

/** The document as validated by {@link JSON_DATASET_SCHEMA}. */
export interface JsonDatasetDocument {
  readonly name?: string;
  readonly task?: 'classification' | 'regression';
  readonly inputShape?: number[];
  readonly classes?: number;
  readonly classNames?: string[];
  readonly x: Sample[];
  readonly y: Sample[];
  readonly test?: { readonly x: Sample[]; readonly y: Sample[] };
}

/** A JSON data set: its train samples and, when the file has one, its own test split. */
export interface JsonDatasetParts {
  readonly train: Dataset;
  readonly test?: Dataset;
}

/** Width of every sample of `rows` (1 for scalars); records a problem at the first sample that differs. */
function rowWidth(rows: readonly Sample[], pointer: string, problems: ConfigProblem[]): number {
  const first = rows[0] as Sample;
  const width = typeof first === 'number' ? 1 : first.length;
  const scalar = typeof first === 'number';
  for (let i = 1; i < rows.length; i++) {
    const r = rows[i] as Sample;
    if ((typeof r === 'number') !== scalar) {
      problems.push({
        pointer: `${pointer}/${i}`,
        message: `must be ${scalar ? 'a number' : 'an array'} like ${pointer}/0`,
      });
      return width;
    }
    if (typeof r !== 'number' && r.length !== width) {
      problems.push({
        pointer: `${pointer}/${i}`,
        message: `must have ${width} values like ${pointer}/0, has ${r.length}`,
      });
      return width;
    }
  }
  return width;
}

function flatten(rows: readonly Sample[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    if (typeof r === 'number') out[i] = r;
    else out.set(r, i * width);
  });
  return out;
}

/**
 * Checks a validated document's semantics (equal row widths, `x`/`y` lengths, inputShape size,
 * labels) and
 * builds the data sets. `file` names the source in errors. Throws a {@link ConfigValidationError}
 * with code
 * `E_DATA_INVALID` listing every problem with its JSON pointer (e.g. `/y/3 must be an integer class
 * index
 * in [0, 10)`).
 */
export function datasetFromJson(doc: unknown, file: string): JsonDatasetParts {
  const d = validateAgainst<JsonDatasetDocument>(JSON_DATASET_SCHEMA, doc, {
    source: file,
    what: 'data set',
    code: 'E_DATA_INVALID',
  });
  const problems: ConfigProblem[] = [];
  const xWidth = rowWidth(d.x, '/x', problems);
  const yWidth = rowWidth(d.y, '/y', problems);
  const isIndex = (v: Sample) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const allIndices = d.y.every(isIndex) && (d.test?.y ?? []).every(isIndex);
  const task = d.task ?? (allIndices ? 'classification' : 'regression');
  if (d.y.length !== d.x.length) {
    problems.push({
      pointer: '/y',
      message: `must have ${d.x.length} entries like /x, has ${d.y.length}`,
    });
  }
  if (d.inputShape !== undefined && d.inputShape.reduce((a, b) => a * b, 1) !== xWidth) {
    problems.push({
      pointer: '/inputShape',
      message: `[${d.inputShape.join(', ')}] holds ${d.inputShape.reduce((a, b) => a * b, 1)} values, \
samples of /x have ${xWidth}`,
    });
  }
  let classes = 0;
  if (task === 'classification') {
    const labels = [...d.y, ...(d.test?.y ?? [])].filter((v): v is number => typeof v === 'number');
    classes = d.classes ?? d.classNames?.length ?? Math.max(0, ...labels.map((v) => Math.floor(v))) + 1;
    const checkLabels = (ys: readonly Sample[], pointer: string) => {
      ys.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= classes) {
          problems.push({
            pointer: `${pointer}/${i}`,
            message: `must be an integer class index in [0, ${classes})`,
          });
        }
      });
    };
    checkLabels(d.y, '/y');
    if (d.test !== undefined) checkLabels(d.test.y, '/test/y');
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
    const tx = rowWidth(d.test.x, '/test/x', problems);
    const ty = rowWidth(d.test.y, '/test/y', problems);
    if (problems.length === before) {
      if (tx !== xWidth || typeof d.test.x[0] !== typeof d.x[0]) {
        problems.push({ pointer: '/test/x/0', message: `must have the shape of /x/0 (${xWidth} values)` });
      }
      if (task === 'regression' && (ty !== yWidth || typeof d.test.y[0] !== typeof d.y[0])) {
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
  const build = (xs: readonly Sample[], ys: readonly Sample[]) =>
    createDataset({
      name,
      task,
      inputShape: d.inputShape ?? [xWidth],
      targetSize: task === 'classification' ? classes : yWidth,
      x: flatten(xs, xWidth),
      y: flatten(ys, task === 'classification' ? 1 : yWidth),
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
