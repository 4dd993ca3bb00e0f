/**
 * An in-memory data set as flat typed arrays. Inputs are NHWC per sample (`inputShape` without the batch
 * axis); classification targets are class indices, regression targets `count × targetSize` values.
 */
export interface Dataset {
  readonly name: string;
  readonly task: 'classification' | 'regression';
  /** Per-sample input shape, e.g. `[28, 28, 1]` or `[1]`. */
  readonly inputShape: readonly number[];
  /** Number of classes (classification) or target values per sample (regression). */
  readonly targetSize: number;
  readonly count: number;
  /** `count × prod(inputShape)` values. */
  readonly x: Float32Array;
  /** Class index per sample (classification) or `count × targetSize` values (regression). */
  readonly y: Float32Array;
  readonly classNames?: readonly string[];
}

/** Train / validation / test splits of one data set. */
export interface DatasetSplits {
  readonly train: Dataset;
  readonly val: Dataset;
  readonly test: Dataset;
}
