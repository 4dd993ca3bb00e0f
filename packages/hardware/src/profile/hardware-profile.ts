import type { OpKind } from '../ops/op-key.js';

/** `$id` of the hardware-profile JSON Schema; shipped profiles point `$schema` at the file copy. */
export const HARDWARE_PROFILE_SCHEMA_ID = 'https://mitosis.dev/schemas/hardware-profile.schema.json';

export type DeviceClass = 'cpu' | 'gpu' | 'dsp' | 'vpu' | 'npu';
export type Precision = 'fp32' | 'fp16' | 'int8';

/** One table row: statistics of `count` timings of one op, in the profile's latency (or energy) unit. */
export interface ProfileEntry {
  readonly mean: number;
  readonly std?: number;
  readonly count?: number;
}

/** A fallback expression with coefficients (fitted by `fitFallback`, or set by hand in an estimated profile). */
export interface ProfileFallback {
  readonly expression: string;
  readonly coefficients: Readonly<Record<string, number>>;
  /** How well the fit reproduces the table it was fitted to (absent for hand-set coefficients). */
  readonly quality?: {
    readonly samples: number;
    readonly rmsRelativeError: number;
    readonly medianAbsPctError: number;
  };
}

/**
 * A hardware profile: per-op latency statistics for one device + runtime + precision + batch size, a fallback
 * predictor for ops the table lacks, optional energy, and the provenance of every number. See
 * `hardware-profiles/schema/hardware-profile.schema.json` and `packages/hardware/README.md`.
 */
export interface HardwareProfile {
  readonly $schema?: string;
  /** Kebab-case id; equals the file stem. */
  readonly id: string;
  readonly version: 1;
  readonly description?: string;
  readonly device: { readonly name: string; readonly class: DeviceClass; readonly processor?: string };
  readonly runtime: { readonly name: string; readonly version?: string };
  readonly precision: Precision;
  readonly batchSize: number;
  /** `layer`: the table prices single layers; `block`: it prices whole blocks (MBConv) as published LUTs do. */
  readonly granularity: 'layer' | 'block';
  /** True when no number in this profile was measured per op: every priced value is `estimated`. */
  readonly estimated: boolean;
  readonly units: { readonly latency: 'ms' | 'us'; readonly energy?: 'mJ' | 'uJ' };
  readonly measurement: {
    /** Mean or median of the repeats is what `mean` holds. */
    readonly statistic: 'mean' | 'median';
    readonly threads?: number | null;
    readonly warmup?: number;
    readonly repeats?: number;
    /** `null` when unknown. */
    readonly frequencyPinned?: boolean | null;
    readonly notes?: string;
  };
  /** Canonical op key → latency statistics. */
  readonly table: Readonly<Record<string, ProfileEntry>>;
  /**
   * Per input resolution (network input height, as a string), entries that replace `table`'s for networks of
   * that resolution: published tables measured the same op separately per resolution.
   */
  readonly resolutionOverrides?: Readonly<Record<string, Readonly<Record<string, ProfileEntry>>>>;
  /** Energy: a table (canonical key → energy statistics) and/or a model over features and `latencyMs`. */
  readonly energy?: {
    readonly table?: Readonly<Record<string, ProfileEntry>>;
    readonly model?: ProfileFallback;
  };
  /** Predictor for keys the table lacks; `byOp` replaces the default for the listed op kinds. */
  readonly fallback?: ProfileFallback & { readonly byOp?: Readonly<Partial<Record<OpKind, ProfileFallback>>> };
  readonly provenance: {
    readonly source: string;
    readonly commit?: string;
    readonly license: string;
    readonly notes?: readonly string[];
    readonly generatedBy?: string;
    readonly date?: string;
  };
}

const entrySchema = {
  type: 'object',
  description: 'Statistics of repeated timings (or energy readings) of one op.',
  properties: {
    mean: { type: 'number', minimum: 0, description: 'Mean (or median, see measurement.statistic), in the profile unit.' },
    std: { type: 'number', minimum: 0, description: 'Standard deviation, same unit.' },
    count: { type: 'integer', minimum: 1, description: 'Number of measurements.' },
  },
  required: ['mean'],
  additionalProperties: false,
} as const;

const KEY_PATTERN = '^[a-z0-9]+-input:[0-9x]+(-[a-z]+:[0-9a-z_x]+)*$';

const tableSchema = {
  type: 'object',
  description: 'Canonical op key → statistics. Keys: <kind>-input:HxWxC[-output:…][-<attr>:<value>]…',
  propertyNames: { pattern: KEY_PATTERN },
  additionalProperties: entrySchema,
} as const;

const fallbackCore = {
  expression: {
    type: 'string',
    minLength: 1,
    description:
      'mathjs expression over macs, params, inBytes, outBytes, kernel, stride, cin, cout, h, w and the coefficients.',
  },
  coefficients: { type: 'object', additionalProperties: { type: 'number' } },
  quality: {
    type: 'object',
    properties: {
      samples: { type: 'integer', minimum: 0 },
      rmsRelativeError: { type: 'number', minimum: 0 },
      medianAbsPctError: { type: 'number', minimum: 0 },
    },
    required: ['samples', 'rmsRelativeError', 'medianAbsPctError'],
    additionalProperties: false,
  },
} as const;

const fallbackSchema = {
  type: 'object',
  properties: fallbackCore,
  required: ['expression', 'coefficients'],
  additionalProperties: false,
} as const;

/** JSON Schema (draft-07) of a hardware profile; validated with ajv through core's `validateAgainst`. */
export const hardwareProfileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: HARDWARE_PROFILE_SCHEMA_ID,
  title: 'mitosis hardware profile',
  type: 'object',
  properties: {
    $schema: { type: 'string' },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]*$', description: 'Equals the file stem.' },
    version: { const: 1 },
    description: { type: 'string' },
    device: {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1 },
        class: { enum: ['cpu', 'gpu', 'dsp', 'vpu', 'npu'] },
        processor: { type: 'string' },
      },
      required: ['name', 'class'],
      additionalProperties: false,
    },
    runtime: {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 }, version: { type: 'string' } },
      required: ['name'],
      additionalProperties: false,
    },
    precision: { enum: ['fp32', 'fp16', 'int8'] },
    batchSize: { type: 'integer', minimum: 1 },
    granularity: { enum: ['layer', 'block'] },
    estimated: { type: 'boolean' },
    units: {
      type: 'object',
      properties: { latency: { enum: ['ms', 'us'] }, energy: { enum: ['mJ', 'uJ'] } },
      required: ['latency'],
      additionalProperties: false,
    },
    measurement: {
      type: 'object',
      properties: {
        statistic: { enum: ['mean', 'median'] },
        threads: { type: ['integer', 'null'], minimum: 1 },
        warmup: { type: 'integer', minimum: 0 },
        repeats: { type: 'integer', minimum: 1 },
        frequencyPinned: { type: ['boolean', 'null'] },
        notes: { type: 'string' },
      },
      required: ['statistic'],
      additionalProperties: false,
    },
    table: tableSchema,
    resolutionOverrides: {
      type: 'object',
      propertyNames: { pattern: '^[1-9][0-9]*$' },
      additionalProperties: tableSchema,
    },
    energy: {
      type: 'object',
      properties: { table: tableSchema, model: fallbackSchema },
      additionalProperties: false,
    },
    fallback: {
      type: 'object',
      properties: {
        ...fallbackCore,
        byOp: {
          type: 'object',
          propertyNames: { pattern: '^[a-z0-9]+$' },
          additionalProperties: fallbackSchema,
        },
      },
      required: ['expression', 'coefficients'],
      additionalProperties: false,
    },
    provenance: {
      type: 'object',
      properties: {
        source: { type: 'string', minLength: 1 },
        commit: { type: 'string' },
        license: { type: 'string', minLength: 1 },
        notes: { type: 'array', items: { type: 'string' } },
        generatedBy: { type: 'string' },
        date: { type: 'string' },
      },
      required: ['source', 'license'],
      additionalProperties: false,
    },
  },
  required: [
    'id',
    'version',
    'device',
    'runtime',
    'precision',
    'batchSize',
    'granularity',
    'estimated',
    'units',
    'measurement',
    'table',
    'provenance',
  ],
  additionalProperties: false,
} as const;
