import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NasError, writeFileAtomicSync, type Dataset, type DatasetSplits } from '@mitosis/core';

/** Per-channel statistics of the inputs; the channel is the last axis of `inputShape`. */
export interface ChannelStats {
  /** Mean per channel. */
  readonly mean: readonly number[];
  /** Population standard deviation per channel. */
  readonly std: readonly number[];
}

/**
 * Mean and (population) standard deviation of every channel over all samples and positions of `ds`,
 * accumulated in float64. For flat inputs (`inputShape` `[d]`) each feature is a channel.
 * Throws `E_DATA_INVALID` on an empty data set.
 */
export function channelStats(ds: Dataset): ChannelStats {
  const channels = ds.inputShape[ds.inputShape.length - 1] ?? 1;
  if (ds.count === 0) {
    throw new NasError('E_DATA_INVALID', `channelStats: ${ds.name} has no samples`, { name: ds.name });
  }
  const sum = new Float64Array(channels);
  const n = ds.x.length / channels;
  for (let i = 0; i < ds.x.length; i++) sum[i % channels]! += ds.x[i] as number;
  const mean = Array.from(sum, (s) => s / n);
  // Second pass around the mean, which is stabler than E[x²] − E[x]².
  const sq = new Float64Array(channels);
  for (let i = 0; i < ds.x.length; i++) {
    const c = i % channels;
    const d = (ds.x[i] as number) - (mean[c] as number);
    sq[c]! += d * d;
  }
  return { mean, std: Array.from(sq, (s) => Math.sqrt(s / n)) };
}

/** Standard deviations below this are treated as 1 by {@link normalise} (a constant channel stays centred). */
export const MIN_STD = 1e-8;

/**
 * A copy of `ds` with every value `x` of channel `c` replaced by `(x − mean[c]) / std[c]`.
 * Throws `E_SHAPE_MISMATCH` when `stats` has a different number of channels than `ds`.
 */
export function normalise(ds: Dataset, stats: ChannelStats): Dataset {
  const channels = ds.inputShape[ds.inputShape.length - 1] ?? 1;
  if (stats.mean.length !== channels || stats.std.length !== channels) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `normalise: ${ds.name} has ${channels} channels but the statistics have ${stats.mean.length}`,
      { name: ds.name, channels, statsChannels: stats.mean.length },
    );
  }
  const scale = stats.std.map((s) => (s < MIN_STD ? 1 : 1 / s));
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    x[i] = ((ds.x[i] as number) - (stats.mean[c] as number)) * (scale[c] as number);
  }
  return { ...ds, x };
}

/**
 * Normalises all three splits with the same statistics: those given, or else the train split's
 * ({@link channelStats}). Returns the splits and the statistics used (save them with a model).
 */
export function normaliseSplits(
  splits: DatasetSplits,
  stats: ChannelStats = channelStats(splits.train),
): { splits: DatasetSplits; stats: ChannelStats } {
  return {
    splits: {
      train: normalise(splits.train, stats),
      val: normalise(splits.val, stats),
      test: normalise(splits.test, stats),
    },
    stats,
  };
}

/** File a model directory keeps its input normalisation in (written by `mitosis grow` when a space normalises). */
export const NORMALISATION_FILE = 'normalisation.json';

/**
 * A JSON file kept beside a model (`normalisation.json`, `dataset.json`): its parsed content, `undefined` when the
 * model has none, `E_DATA_INVALID` naming it when it is not JSON.
 */
export function readModelSideFile(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (cause) {
    throw new NasError('E_DATA_INVALID', `${file} is not valid JSON: ${(cause as Error).message}`, { file });
  }
}

/**
 * The input normalisation a model was trained with, from `<modelDir>/normalisation.json`, or `null` when the
 * model was trained on raw inputs. A malformed file is `E_DATA_INVALID` naming it.
 */
export function readModelNormalisation(modelDir: string): ChannelStats | null {
  const file = join(modelDir, NORMALISATION_FILE);
  const doc = readModelSideFile(file);
  if (doc === undefined) return null;
  const d = doc as { mean?: unknown; std?: unknown };
  const ok = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!ok(d.mean) || !ok(d.std) || d.mean.length !== d.std.length) {
    throw new NasError('E_DATA_INVALID', `${file} must hold {"mean": [...], "std": [...]} of equal length`, { file });
  }
  return { mean: d.mean, std: d.std };
}

/** Writes `stats` as `<modelDir>/normalisation.json`. */
export function writeModelNormalisation(modelDir: string, stats: ChannelStats): void {
  writeFileAtomicSync(join(modelDir, NORMALISATION_FILE), `${JSON.stringify({ mean: stats.mean, std: stats.std })}\n`, 'write the model normalisation');
}
