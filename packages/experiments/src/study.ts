import { basename, dirname, isAbsolute, resolve } from 'node:path';
import {
  cloneJson,
  COST_UNITS,
  ConfigValidationError,
  NasError,
  readJsonFile,
  validateAgainst,
  type ConfigProblem,
  type CostUnit,
} from '@mitosis/core';
import { canonicalJson } from './canonical.js';
import { parseBudgetText } from './budget.js';

/** One method of a study: a method id (grower, pruner or resizer), its options, and a label for reports. */
export interface StudyMethod {
  /** Method id as `mitosis run --method` takes it (`energy-aware`, `prune-l1`, `width-multiplier`, …). */
  readonly id: string;
  /** Method options, validated by the method when the trial runs (default `{}`). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Name in tables and plots; unique within the study (default: the id). */
  readonly label: string;
  /**
   * A search space for this entry only (an ablation arm: the same method on a variant of the space, e.g. another
   * schedule or seed size); absent: the study's `space`.
   */
  readonly space?: string;
}

/**
 * A study: one search space, several methods, budgets (one unit, several values trace a curve), devices and
 * seeds. Every combination is one trial (see {@link expandStudy}).
 */
export interface Study {
  readonly format: 'mitosis-study';
  readonly version: 1;
  readonly id: string;
  readonly description?: string;
  /** Search space: a shipped id or a path (relative to the study file). */
  readonly space: string;
  readonly methods: readonly StudyMethod[];
  readonly budgets: { readonly unit: CostUnit; readonly values: readonly number[] };
  /** Hardware profile ids or files; `null` runs without `--profile` (the space's default, if any). */
  readonly devices: readonly (string | null)[];
  readonly seeds: readonly number[];
  /** Rounds per trial; absent: the space's default. */
  readonly rounds?: number;
  /** Data set id or directory overriding the space's (`mitosis run --data`). */
  readonly data?: string;
  /** Label of the method every other method is compared with, paired by seed. */
  readonly reference?: string;
}

/** JSON Schema of a study file (also shipped as `search-spaces/schema/study.schema.json`). */
export const studySchema = {
  title: 'mitosis study',
  description:
    'Methods × budgets × devices × seeds on one search space; `mitosis compare --study <file>` runs every combination as a trial.',
  type: 'object',
  properties: {
    $schema: { type: 'string' },
    format: { const: 'mitosis-study' },
    version: { const: 1 },
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 100 },
    description: { type: 'string' },
    space: { type: 'string', minLength: 1, description: 'shipped search space id or a path relative to this file' },
    methods: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
          options: { type: 'object', default: {} },
          label: { type: 'string', pattern: '^[^,|\\n]+$', maxLength: 60 },
          space: { type: 'string', minLength: 1, description: "this entry's search space (id or path relative to this file), for ablation arms" },
        },
        required: ['id'],
        additionalProperties: false,
      },
    },
    budgets: {
      type: 'object',
      properties: {
        unit: { enum: [...COST_UNITS] },
        values: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'number', exclusiveMinimum: 0 } },
      },
      required: ['unit', 'values'],
      additionalProperties: false,
    },
    devices: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: ['string', 'null'], minLength: 1 },
      default: [null],
    },
    seeds: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'integer', minimum: 0, maximum: 4294967295 },
    },
    rounds: { type: 'integer', minimum: 0 },
    data: { type: 'string', minLength: 1 },
    reference: { type: 'string', minLength: 1 },
  },
  required: ['format', 'version', 'id', 'space', 'methods', 'budgets', 'seeds'],
  additionalProperties: false,
} as const;

const isPathLike = (ref: string): boolean => ref.endsWith('.json') || ref.includes('/') || ref.includes('\\');

/**
 * Validates a study document (schema, then: labels unique, no two entries that would run the same trials,
 * `reference` naming a label) and fills defaults: labels, `options: {}`, `devices: [null]`. Paths in
 * `space`, `data` and `devices` stay as written; {@link resolveStudyPaths} makes them absolute.
 * Throws {@link ConfigValidationError} (`E_CONFIG_INVALID`) listing every problem with its JSON pointer.
 */
export function parseStudy(doc: unknown, source: string): Study {
  // Validate a copy: ajv fills defaults in place and the caller's document stays as given.
  const raw = validateAgainst<Record<string, unknown>>(studySchema, cloneJson(doc, source), { source, what: 'study' });
  const methodsIn = raw['methods'] as { id: string; options: Record<string, unknown>; label?: string; space?: string }[];
  const problems: ConfigProblem[] = [];
  const labels = new Map<string, number>();
  const runs = new Map<string, number>();
  const methods: StudyMethod[] = methodsIn.map((m, i) => {
    const label = m.label ?? m.id;
    const prevLabel = labels.get(label);
    if (prevLabel !== undefined) {
      problems.push({
        pointer: `/methods/${i}/label`,
        message: `repeats the label "${label}" of /methods/${prevLabel} (give each entry of the same method its own label)`,
      });
    } else labels.set(label, i);
    const key = canonicalJson({ id: m.id, options: m.options, space: m.space ?? null });
    const prevRun = runs.get(key);
    if (prevRun !== undefined) {
      problems.push({ pointer: `/methods/${i}`, message: `runs the same method and options as /methods/${prevRun}` });
    } else runs.set(key, i);
    return { id: m.id, options: m.options, label, ...(m.space === undefined ? {} : { space: m.space }) };
  });
  const reference = raw['reference'] as string | undefined;
  if (reference !== undefined && !labels.has(reference)) {
    problems.push({ pointer: '/reference', message: `must be one of the method labels (${[...labels.keys()].join(', ')})` });
  }
  if (problems.length > 0) throw new ConfigValidationError(source, problems, 'study');
  const { $schema: _schema, ...rest } = raw;
  return { ...(rest as unknown as Study), methods };
}

/** Reads, parses and validates a study file; its relative paths are resolved against the file's directory. */
export function loadStudy(file: string): Study {
  return resolveStudyPaths(parseStudy(readJsonFile(file), file), dirname(resolve(file)));
}

/**
 * Makes the path-like references of a study absolute against `baseDir`: a `space`, `data` or device that ends
 * in `.json` or contains a slash (write `./fashion` for a directory next to the study). Ids
 * (`convnet-fashion`, `fashion-mnist`, `note10-cpu`) stay as they are.
 */
export function resolveStudyPaths(study: Study, baseDir: string): Study {
  const abs = (ref: string): string => (isPathLike(ref) && !isAbsolute(ref) ? resolve(baseDir, ref) : ref);
  return {
    ...study,
    space: abs(study.space),
    methods: study.methods.map((m) => (m.space === undefined ? m : { ...m, space: abs(m.space) })),
    devices: study.devices.map((d) => (d === null ? null : abs(d))),
    ...(study.data === undefined ? {} : { data: abs(study.data) }),
  };
}

/** Flags of `mitosis compare` that build a study without a file. */
export interface StudyFlags {
  /** Default: `<space>-study`. */
  readonly id?: string;
  readonly space: string;
  /** Comma-separated method ids. */
  readonly methods: string;
  /** JSON object: method id → options. */
  readonly methodOptions?: string;
  /** Comma-separated budgets with units, all in one unit (`300kmacs,450kmacs`). */
  readonly budget: string;
  /** Comma-separated seeds (default `0`). */
  readonly seeds?: string;
  /** Comma-separated profile ids or files. */
  readonly devices?: string;
  readonly rounds?: number;
  readonly data?: string;
  readonly reference?: string;
}

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/**
 * Builds a study from `mitosis compare` flags and validates it like a file (source `command line`); paths
 * resolve against `cwd`. Budgets in different units are an `E_USAGE` error: a study has one cost axis.
 */
export function studyFromFlags(flags: StudyFlags, cwd: string = process.cwd()): Study {
  const budgets = list(flags.budget).map(parseBudgetText);
  const unit = budgets[0]?.unit;
  if (unit === undefined) throw new NasError('E_USAGE', '--budget needs at least one <value><unit>', { budget: flags.budget });
  const other = budgets.find((b) => b.unit !== unit);
  if (other !== undefined) {
    throw new NasError('E_USAGE', `--budget mixes units (${unit} and ${other.unit}); a study has one cost unit`, {
      budget: flags.budget,
    });
  }
  let options: Record<string, unknown> = {};
  if (flags.methodOptions !== undefined) {
    try {
      options = JSON.parse(flags.methodOptions) as Record<string, unknown>;
    } catch (cause) {
      throw new NasError('E_USAGE', `--method-options is not valid JSON: ${(cause as Error).message}`, {
        option: '--method-options',
      });
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new NasError('E_USAGE', '--method-options must be a JSON object: method id → options', {
        option: '--method-options',
      });
    }
  }
  const seeds = list(flags.seeds ?? '0').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new NasError('E_USAGE', `--seeds must list integers ≥ 0, got "${s}"`, { seeds: flags.seeds });
    return n;
  });
  const methodIds = list(flags.methods);
  const unknownOptions = Object.keys(options).filter((k) => !methodIds.includes(k));
  if (unknownOptions.length > 0) {
    throw new NasError('E_USAGE', `--method-options names methods not in --methods: ${unknownOptions.join(', ')}`, {
      option: '--method-options',
      methods: unknownOptions,
    });
  }
  const doc = {
    format: 'mitosis-study',
    version: 1,
    id: flags.id ?? `${basename(flags.space, '.json').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '')}-study`,
    space: flags.space,
    methods: methodIds.map((id) => ({ id, ...(options[id] === undefined ? {} : { options: options[id] }) })),
    budgets: { unit, values: budgets.map((b) => b.value) },
    ...(flags.devices === undefined ? {} : { devices: list(flags.devices) }),
    seeds,
    ...(flags.rounds === undefined ? {} : { rounds: flags.rounds }),
    ...(flags.data === undefined ? {} : { data: flags.data }),
    ...(flags.reference === undefined ? {} : { reference: flags.reference }),
  };
  return resolveStudyPaths(parseStudy(doc, 'command line'), cwd);
}
