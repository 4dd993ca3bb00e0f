import { join } from 'node:path';
import { readModelSideFile } from './normalise.js';
import { NasError, writeFileAtomicSync, type Dataset, type DatasetSplits } from '@mitosis/core';

/** File a model directory keeps what its inputs and outputs mean in (written by every run's final model). */
export const MODEL_DATA_FILE = 'dataset.json';

/**
 * What a model was trained on, as far as a deployment needs it: the data set, the per-sample input shape (NHWC,
 * no batch axis), the range of the raw inputs before any normalisation, and the output's meaning (classes and
 * their names, or regression targets).
 */
export interface ModelDataInfo {
  readonly format: 'mitosis-model-data';
  readonly version: 1;
  readonly dataset: string;
  readonly task: 'classification' | 'regression';
  readonly inputShape: readonly number[];
  /** Smallest and largest raw input value in the training split (before normalisation). */
  readonly inputRange: readonly [number, number];
  /** Number of classes, or regression targets per sample. */
  readonly outputs: number;
  /** Class names in output order (null when the data set has none). */
  readonly classNames: readonly string[] | null;
  /** Samples per split. */
  readonly counts: { readonly train: number; readonly val: number; readonly test: number };
}

function rangeOf(ds: Dataset): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return ds.x.length === 0 ? [0, 0] : [lo, hi];
}

/** The info of raw (not yet normalised) splits loaded from `dataset`. */
export function modelDataInfo(dataset: string, raw: DatasetSplits): ModelDataInfo {
  const t = raw.train;
  return {
    format: 'mitosis-model-data',
    version: 1,
    dataset,
    task: t.task,
    inputShape: [...t.inputShape],
    inputRange: rangeOf(t),
    outputs: t.targetSize,
    classNames: t.classNames === undefined ? null : [...t.classNames],
    counts: { train: raw.train.count, val: raw.val.count, test: raw.test.count },
  };
}

/** Writes `info` as `<modelDir>/dataset.json`. */
export function writeModelDataInfo(modelDir: string, info: ModelDataInfo): void {
  writeFileAtomicSync(join(modelDir, MODEL_DATA_FILE), `${JSON.stringify(info, null, 1)}\n`, 'write the model data description');
}

/** `<modelDir>/dataset.json`, or null when the model has none (models written before it existed). */
export function readModelDataInfo(modelDir: string): ModelDataInfo | null {
  const file = join(modelDir, MODEL_DATA_FILE);
  const doc = readModelSideFile(file);
  if (doc === undefined) return null;
  const d = doc as Partial<ModelDataInfo>;
  const shapeOk = Array.isArray(d.inputShape) && d.inputShape.every((v) => Number.isInteger(v) && v > 0);
  const rangeOk = Array.isArray(d.inputRange) && d.inputRange.length === 2 && d.inputRange.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (d.format !== 'mitosis-model-data' || typeof d.dataset !== 'string' || !shapeOk || !rangeOk || !Number.isInteger(d.outputs)) {
    throw new NasError('E_DATA_INVALID', `${file} is not a mitosis model data file (format, dataset, inputShape, inputRange, outputs)`, { file });
  }
  return d as ModelDataInfo;
}
