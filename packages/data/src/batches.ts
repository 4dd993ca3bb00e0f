import { NasError, type Dataset } from '@mitosis/core';
import { oneHot, sampleSize, shuffledIndices, targetWidth } from './dataset-ops.js';

/** One mini-batch, copied out of its data set. */
export interface Batch {
  /** `count × prod(inputShape)` input values (NHWC per sample). */
  readonly x: Float32Array;
  /**
   * Targets in the data set's layout: `count` class indices or `count × targetSize` regression
   * values;
   * with `oneHot: true` (classification), `count × targetSize` one-hot rows.
   */
  readonly y: Float32Array;
  /** Samples in this batch (the last one may be short unless `dropLast`). */
  readonly count: number;
  /** Index in the data set of each sample of the batch. */
  readonly indices: Uint32Array;
}

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Visit samples in a seeded random order (default false: data set order). */
  readonly shuffle?: boolean;
  /** Seed of the shuffle (default 0). Use a different seed per epoch, e.g. `seed + epoch`. */
  readonly seed?: number;
  /** Skip a final batch shorter than `batchSize` (default false). */
  readonly dropLast?: boolean;
  /** Classification only: give `y` as one-hot rows instead of class indices (default false). */
  readonly oneHot?: boolean;
}

/**
 * Mini-batches over `ds`. The result can be iterated any number of times and yields the same
 * batches each
 * time (the order depends only on `seed`). Throws `E_OPTIONS_INVALID` for a batch size that is not
 * a
 * positive integer.
 */
export function batches(ds: Dataset, batchSize: number, options: BatchOptions = {}): Iterable<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new NasError('E_OPTIONS_INVALID', `Batch size must be a positive integer, got ${batchSize}`, {
      batchSize,
    });
  }
  const per = sampleSize(ds.inputShape);
  const yPer = targetWidth(ds);
  const hot = options.oneHot === true && ds.task === 'classification';
  return {
    *[Symbol.iterator](): Iterator<Batch> {
      let order: Uint32Array;
      if (options.shuffle === true) {
        order = shuffledIndices(ds.count, options.seed ?? 0);
      } else {
        order = new Uint32Array(ds.count);
        for (let i = 0; i < ds.count; i++) order[i] = i;
      }
      for (let start = 0; start < ds.count; start += batchSize) {
        const count = Math.min(batchSize, ds.count - start);
        if (count < batchSize && options.dropLast === true) return;
        const indices = order.slice(start, start + count);
        const x = new Float32Array(count * per);
        const y = new Float32Array(count * yPer);
        for (let k = 0; k < count; k++) {
          const i = indices[k] as number;
          x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
          y.set(ds.y.subarray(i * yPer, (i + 1) * yPer), k * yPer);
        }
        yield { x, y: hot ? oneHot(y, ds.targetSize) : y, count, indices };
      }
    },
  };
}

/** Number of batches {@link batches} yields for `count` samples. */
export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}
