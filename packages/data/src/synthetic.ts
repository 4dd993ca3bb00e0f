import { SeededRandom, validateAgainst, type Dataset } from '@mitosis/core';
import { createDataset } from './dataset-ops.js';

const seedSchema = { type: 'integer', minimum: 0, maximum: 4294967295, default: 0 } as const;

function countSchema(def: number) {
  return { type: 'integer', minimum: 1, maximum: 10_000_000, default: def } as const;
}

/**
 * Copies `options`, fills defaults and validates them against `schema`; throws `E_OPTIONS_INVALID`
 * with a
 * JSON pointer per problem (e.g. `/classes must be >= 1`, `/arms is not allowed here`).
 */
function readOptions<T>(schema: object, options: object, id: string): Required<T> {
  const copy = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return validateAgainst<Required<T>>(schema, copy, {
    source: id,
    what: 'options of data set',
    code: 'E_OPTIONS_INVALID',
  });
}

/** JSON Schemas of the options of each synthetic generator (defaults included). */
export const SYNTHETIC_OPTION_SCHEMAS = {
  'toy-1d': { type: 'object', properties: {}, additionalProperties: false },
  'regression-1d': {
    type: 'object',
    properties: {
      seed: seedSchema,
      count: countSchema(200),
      noise: { type: 'number', minimum: 0, default: 0.1 },
      fn: { type: 'string', enum: ['sin', 'cubic', 'tanh-steps', 'abs'], default: 'sin' },
    },
    additionalProperties: false,
  },
  blobs: {
    type: 'object',
    properties: {
      seed: seedSchema,
      count: countSchema(300),
      classes: { type: 'integer', minimum: 1, maximum: 10000, default: 3 },
      dims: { type: 'integer', minimum: 1, maximum: 100000, default: 2 },
      spread: { type: 'number', minimum: 0, default: 1 },
      centreBox: { type: 'number', minimum: 0, default: 5 },
    },
    additionalProperties: false,
  },
  spirals: {
    type: 'object',
    properties: {
      seed: seedSchema,
      count: countSchema(300),
      arms: { type: 'integer', minimum: 1, maximum: 1000, default: 2 },
      turns: { type: 'number', minimum: 0, default: 1 },
      noise: { type: 'number', minimum: 0, default: 0.05 },
    },
    additionalProperties: false,
  },
  'synthetic-images': {
    type: 'object',
    properties: {
      seed: seedSchema,
      count: countSchema(500),
      classes: { type: 'integer', minimum: 1, maximum: 10000, default: 10 },
      height: { type: 'integer', minimum: 1, maximum: 4096, default: 32 },
      width: { type: 'integer', minimum: 1, maximum: 4096, default: 32 },
      channels: { type: 'integer', minimum: 1, maximum: 64, default: 3 },
      noise: { type: 'number', minimum: 0, default: 0.1 },
    },
    additionalProperties: false,
  },
} as const;

/**
 * The 13-point toy of algorithms.md §9 check C: `x ∈ {−3, −2.5, …, 3}`, `y = tanh(3x + 1.5) +
 * tanh(3x − 1.5)`
 * (a two-step staircase that a 2-neuron tanh net fits exactly). Regression, inputShape `[1]`, in x
 * order.
 */
export function toy1d(): Dataset {
  const n = 13;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const xi = -3 + 0.5 * i;
    x[i] = xi;
    y[i] = Math.tanh(3 * xi + 1.5) + Math.tanh(3 * xi - 1.5);
  }
  return createDataset({ name: 'toy-1d', task: 'regression', inputShape: [1], targetSize: 1, x, y });
}

/** Target functions of {@link regression1d}. */
export const REGRESSION_1D_FUNCTIONS = {
  sin: (x: number) => Math.sin(x),
  cubic: (x: number) => (x * x * x) / 9 - x,
  'tanh-steps': (x: number) => Math.tanh(3 * x + 1.5) + Math.tanh(3 * x - 1.5),
  abs: (x: number) => Math.abs(x) - 1.5,
} as const;

/** Name of a {@link regression1d} target function. */
export type Regression1dFunction = keyof typeof REGRESSION_1D_FUNCTIONS;

/** Options of {@link regression1d}. */
export interface Regression1dOptions {
  readonly seed?: number;
  /** Samples (default 200). */
  readonly count?: number;
  /** Standard deviation of the additive Gaussian noise on y (default 0.1). */
  readonly noise?: number;
  /** Target function (default `sin`). */
  readonly fn?: Regression1dFunction;
}

/** Noisy 1-D regression: `x ~ U(−3, 3)`, `y = f(x) + noise·N(0, 1)`. inputShape `[1]`, targetSize 1. */
export function regression1d(options: Regression1dOptions = {}): Dataset {
  const o = readOptions<Regression1dOptions>(
    SYNTHETIC_OPTION_SCHEMAS['regression-1d'],
    options,
    'regression-1d',
  );
  const { count, noise } = o;
  const f = REGRESSION_1D_FUNCTIONS[o.fn];
  const rng = new SeededRandom(o.seed);
  const x = new Float32Array(count);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const xi = -3 + 6 * rng.next();
    x[i] = xi;
    y[i] = f(xi) + noise * rng.normal();
  }
  return createDataset({ name: 'regression-1d', task: 'regression', inputShape: [1], targetSize: 1, x, y });
}

/** Options of {@link blobs}. */
export interface BlobsOptions {
  readonly seed?: number;
  /** Samples (default 300), classes as balanced as the count allows. */
  readonly count?: number;
  /** Classes (default 3). */
  readonly classes?: number;
  /** Input dimensions (default 2). */
  readonly dims?: number;
  /** Standard deviation of each blob (default 1). */
  readonly spread?: number;
  /** Centres are drawn uniformly in `[−centreBox, centreBox]^dims` (default 5). */
  readonly centreBox?: number;
}

/**
 * Isotropic Gaussian blobs: one centre per class drawn uniformly in a box, samples `centre +
 * spread·N(0, I)`.
 * Sample `i` has class `i mod classes`. inputShape `[dims]`.
 */
export function blobs(options: BlobsOptions = {}): Dataset {
  const o = readOptions<BlobsOptions>(SYNTHETIC_OPTION_SCHEMAS.blobs, options, 'blobs');
  const { count, classes, dims, spread } = o;
  const box = o.centreBox;
  const rng = new SeededRandom(o.seed);
  const centres = Array.from({ length: classes }, () =>
    Array.from({ length: dims }, () => box * (2 * rng.next() - 1)),
  );
  const x = new Float32Array(count * dims);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    y[i] = c;
    const centre = centres[c] as number[];
    for (let d = 0; d < dims; d++) x[i * dims + d] = (centre[d] as number) + spread * rng.normal();
  }
  return createDataset({
    name: 'blobs',
    task: 'classification',
    inputShape: [dims],
    targetSize: classes,
    x,
    y,
  });
}

/** Options of {@link spirals}. */
export interface SpiralsOptions {
  readonly seed?: number;
  /** Samples (default 300), spread evenly over the arms. */
  readonly count?: number;
  /** Arms, one class each (default 2). */
  readonly arms?: number;
  /** Turns of each arm (default 1). */
  readonly turns?: number;
  /** Standard deviation of the Gaussian noise on each coordinate (default 0.05; the arms reach radius 1). */
  readonly noise?: number;
}

/**
 * Interleaved 2-D spirals: arm `k` at parameter `t ~ U(0, 1)` is the point at radius `t` and angle
 * `2π·turns·t + 2πk/arms`, plus noise. Sample `i` is on arm `i mod arms`. inputShape `[2]`.
 */
export function spirals(options: SpiralsOptions = {}): Dataset {
  const o = readOptions<SpiralsOptions>(SYNTHETIC_OPTION_SCHEMAS.spirals, options, 'spirals');
  const { count, arms, turns, noise } = o;
  const rng = new SeededRandom(o.seed);
  const x = new Float32Array(count * 2);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % arms;
    const t = rng.next();
    const angle = 2 * Math.PI * (turns * t + k / arms);
    y[i] = k;
    x[2 * i] = t * Math.cos(angle) + noise * rng.normal();
    x[2 * i + 1] = t * Math.sin(angle) + noise * rng.normal();
  }
  return createDataset({ name: 'spirals', task: 'classification', inputShape: [2], targetSize: arms, x, y });
}

/** Options of {@link syntheticImages}. */
export interface SyntheticImagesOptions {
  readonly seed?: number;
  /** Samples (default 500). */
  readonly count?: number;
  /** Classes (default 10). */
  readonly classes?: number;
  /** Image height in pixels (default 32). */
  readonly height?: number;
  /** Image width in pixels (default 32). */
  readonly width?: number;
  /** Channels (default 3). */
  readonly channels?: number;
  /** Standard deviation of the per-pixel Gaussian noise (default 0.1). */
  readonly noise?: number;
}

/**
 * Small class-conditional images (a CIFAR stand-in for tests). Each class has a prototype: a base
 * colour
 * per channel in `[0.25, 0.75]` plus a plane wave of amplitude 0.2 with a class-specific direction,
 * frequency (1–3 cycles per image) and phase per channel. A sample is its class prototype plus
 * `noise·N(0, 1)` per value, clamped to `[0, 1]`. Sample `i` has class `i mod classes`.
 * inputShape `[height, width, channels]` (HWC).
 */
export function syntheticImages(options: SyntheticImagesOptions = {}): Dataset {
  const o = readOptions<SyntheticImagesOptions>(
    SYNTHETIC_OPTION_SCHEMAS['synthetic-images'],
    options,
    'synthetic-images',
  );
  const { count, classes, noise } = o;
  const h = o.height;
  const w = o.width;
  const ch = o.channels;
  const rng = new SeededRandom(o.seed);
  const per = h * w * ch;
  const prototypes: Float32Array[] = [];
  for (let c = 0; c < classes; c++) {
    const proto = new Float32Array(per);
    const angle = Math.PI * rng.next();
    const freq = 1 + 2 * rng.next();
    const fy = (freq * Math.sin(angle)) / h;
    const fx = (freq * Math.cos(angle)) / w;
    const base = Array.from({ length: ch }, () => 0.25 + 0.5 * rng.next());
    const phase = Array.from({ length: ch }, () => 2 * Math.PI * rng.next());
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < ch; k++) {
          const wave = Math.sin(2 * Math.PI * (fy * i + fx * j) + (phase[k] as number));
          proto[(i * w + j) * ch + k] = (base[k] as number) + 0.2 * wave;
        }
      }
    }
    prototypes.push(proto);
  }
  const x = new Float32Array(count * per);
  const y = new Float32Array(count);
  for (let s = 0; s < count; s++) {
    const c = s % classes;
    y[s] = c;
    const proto = prototypes[c] as Float32Array;
    for (let v = 0; v < per; v++) {
      const value = (proto[v] as number) + noise * rng.normal();
      x[s * per + v] = value < 0 ? 0 : value > 1 ? 1 : value;
    }
  }
  return createDataset({
    name: 'synthetic-images',
    task: 'classification',
    inputShape: [h, w, ch],
    targetSize: classes,
    x,
    y,
  });
}

