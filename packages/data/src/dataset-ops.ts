import { NasError, SeededRandom, type Dataset } from '@mitosis/core';

/** Product of a shape's dimensions: the number of input values per sample. */
export function sampleSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Fields of a {@link Dataset}, as given to {@link createDataset}. */
export interface DatasetFields {
  readonly name: string;
  readonly task: 'classification' | 'regression';
  readonly inputShape: readonly number[];
  readonly targetSize: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly classNames?: readonly string[] | undefined;
}

/**
 * Builds a {@link Dataset}, checking that `x` holds `count × prod(inputShape)` values and `y` holds
 * `count`
 * class indices in `[0, targetSize)` (classification) or `count × targetSize` values (regression).
 * `count` is derived from `x`. Throws `E_DATA_INVALID` naming the data set when the arrays
 * disagree.
 */
export function createDataset(fields: DatasetFields): Dataset {
  const per = sampleSize(fields.inputShape);
  if (per <= 0 || !fields.inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new NasError(
      'E_DATA_INVALID',
      `Data set ${fields.name}: input shape [${fields.inputShape.join(', ')}] must be positive integers`,
      { name: fields.name, inputShape: [...fields.inputShape] },
    );
  }
  if (fields.x.length % per !== 0) {
    throw new NasError(
      'E_DATA_INVALID',
      `Data set ${fields.name}: ${fields.x.length} input values are not a whole number of samples of ${per} values`,
      { name: fields.name, values: fields.x.length, sampleSize: per },
    );
  }
  if (fields.classNames !== undefined && fields.classNames.length !== fields.targetSize) {
    throw new NasError(
      'E_DATA_INVALID',
      `Data set ${fields.name}: ${fields.classNames.length} class names for ${fields.targetSize} classes`,
      { name: fields.name, classNames: fields.classNames.length, classes: fields.targetSize },
    );
  }
  const count = fields.x.length / per;
  const yPer = fields.task === 'classification' ? 1 : fields.targetSize;
  if (fields.y.length !== count * yPer) {
    throw new NasError(
      'E_DATA_INVALID',
      `Data set ${fields.name}: ${count} samples need ${count * yPer} target values, got ${fields.y.length}`,
      { name: fields.name, count, targets: fields.y.length },
    );
  }
  if (fields.task === 'classification') {
    for (let i = 0; i < count; i++) {
      const label = fields.y[i] as number;
      if (!Number.isInteger(label) || label < 0 || label >= fields.targetSize) {
        throw new NasError(
          'E_DATA_INVALID',
          `Data set ${fields.name}: label ${label} of sample ${i} is outside [0, ${fields.targetSize})`,
          { name: fields.name, sample: i, label },
        );
      }
    }
  }
  return {
    name: fields.name,
    task: fields.task,
    inputShape: [...fields.inputShape],
    targetSize: fields.targetSize,
    count,
    x: fields.x,
    y: fields.y,
    ...(fields.classNames === undefined ? {} : { classNames: [...fields.classNames] }),
  };
}

/** Number of `y` values per sample: 1 (a class index) or `targetSize` (regression). */
export function targetWidth(ds: Dataset): number {
  return ds.task === 'classification' ? 1 : ds.targetSize;
}

/**
 * A new data set holding the samples at `indices`, in that order (copies; repeats allowed).
 * Throws `E_DATA_INVALID` for an index outside `[0, ds.count)`.
 */
export function subset(ds: Dataset, indices: ArrayLike<number>, name: string = ds.name): Dataset {
  const per = sampleSize(ds.inputShape);
  const yPer = targetWidth(ds);
  const x = new Float32Array(indices.length * per);
  const y = new Float32Array(indices.length * yPer);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new NasError('E_DATA_INVALID', `subset of ${ds.name}: index ${i} is outside [0, ${ds.count})`, {
        name: ds.name,
        index: i,
      });
    }
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    y.set(ds.y.subarray(i * yPer, (i + 1) * yPer), k * yPer);
  }
  return {
    name,
    task: ds.task,
    inputShape: [...ds.inputShape],
    targetSize: ds.targetSize,
    count: indices.length,
    x,
    y,
    ...(ds.classNames === undefined ? {} : { classNames: [...ds.classNames] }),
  };
}

/** The samples of `a` followed by those of `b`; both must have the same task, input shape and target size. */
export function concatDatasets(a: Dataset, b: Dataset, name: string = a.name): Dataset {
  if (
    a.task !== b.task ||
    a.targetSize !== b.targetSize ||
    a.inputShape.length !== b.inputShape.length ||
    a.inputShape.some((d, i) => d !== b.inputShape[i])
  ) {
    throw new NasError('E_SHAPE_MISMATCH', `Cannot concatenate ${a.name} and ${b.name}: task or shapes differ`, {
      a: { task: a.task, inputShape: [...a.inputShape], targetSize: a.targetSize },
      b: { task: b.task, inputShape: [...b.inputShape], targetSize: b.targetSize },
    });
  }
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = new Float32Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { ...a, name, count: a.count + b.count, x, y };
}

/**
 * One-hot encodes class indices: returns `labels.length × numClasses` values, row `i` all zero but
 * a 1 at
 * column `labels[i]`. Throws `E_DATA_INVALID` for a label that is not an integer in `[0,
 * numClasses)`.
 */
export function oneHot(labels: ArrayLike<number>, numClasses: number): Float32Array {
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i] as number;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new NasError('E_DATA_INVALID', `oneHot: label ${c} at ${i} is outside [0, ${numClasses})`, {
        index: i,
        label: c,
        numClasses,
      });
    }
    out[i * numClasses + c] = 1;
  }
  return out;
}

/** `[0, 1, …, n-1]` shuffled by a {@link SeededRandom} seeded with `seed` (Fisher–Yates). */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return new SeededRandom(seed).shuffle(idx);
}

/** Number of samples per class (`targetSize` entries) of a classification data set. */
export function classCounts(ds: Dataset): number[] {
  if (ds.task !== 'classification') {
    throw new NasError('E_DATA_INVALID', `classCounts: ${ds.name} is a regression data set`, { name: ds.name });
  }
  const counts = new Array<number>(ds.targetSize).fill(0);
  for (let i = 0; i < ds.count; i++) counts[ds.y[i] as number]! += 1;
  return counts;
}
