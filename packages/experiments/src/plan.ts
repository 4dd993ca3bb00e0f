import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { NasError, readJsonFile, validateAgainst, writeFileAtomicSync } from '@mitosis/core';
import { budgetArgument, type StudyBudget } from './budget.js';
import { shortHash } from './canonical.js';
import { resolveSpace, type ResolvedSpace } from './space-ref.js';
import type { Study } from './study.js';

/** One trial of a study: one method on one budget, device and seed; an ordinary `mitosis run` directory. */
export interface PlannedTrial {
  /** 12 hex digits of the SHA-256 of the trial's canonical configuration ({@link trialConfig}). */
  readonly id: string;
  /** Directory relative to the study directory: `trials/<id>`. */
  readonly dir: string;
  readonly label: string;
  readonly method: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly budget: StudyBudget;
  readonly device: string | null;
  readonly seed: number;
  readonly rounds: number | null;
  readonly data: string | null;
  /** Flags of `mitosis run` for this trial, without `--out`, `--resume` and `--json`. */
  readonly args: readonly string[];
}

/** A study expanded into trials, as written to `<studyDir>/plan.json`. */
export interface StudyPlan {
  readonly format: 'mitosis-study-plan';
  readonly version: 1;
  readonly study: string;
  readonly description?: string;
  readonly space: { readonly ref: string; readonly id: string; readonly file: string; readonly sha256: string };
  /** Method labels in study order. */
  readonly methods: readonly string[];
  readonly budgets: readonly StudyBudget[];
  readonly devices: readonly (string | null)[];
  readonly seeds: readonly number[];
  readonly reference: string | null;
  /** Trials in run order: seed-major, so that a partial study already covers every method. */
  readonly trials: readonly PlannedTrial[];
}

/** File names inside a study directory. */
export const STUDY_FILES = {
  study: 'study.json',
  plan: 'plan.json',
  results: 'results.json',
  csv: 'results.csv',
  reportMd: 'report.md',
  reportHtml: 'report.html',
  plots: 'plots',
  trials: 'trials',
  lock: 'compare.lock',
} as const;

/** File names inside a trial directory (the `mitosis run` ones plus the executor's). */
export const TRIAL_FILES = {
  summary: 'summary.json',
  events: 'events.jsonl',
  log: 'trial.log',
  trial: 'trial.json',
  exit: 'exit.json',
} as const;

/**
 * What a trial's id hashes: the search space's content (not its path), the method and its options, budget,
 * device, seed, rounds and data override. Labels and the study id are presentation and are left out, so the
 * same trial in two studies shares its results when both use one study directory.
 */
export function trialConfig(
  space: Pick<ResolvedSpace, 'content'>,
  t: Pick<PlannedTrial, 'method' | 'options' | 'budget' | 'device' | 'seed' | 'rounds' | 'data'>,
): unknown {
  return {
    space: space.content,
    method: t.method,
    options: t.options,
    budget: { value: t.budget.value, unit: t.budget.unit },
    device: t.device,
    seed: t.seed,
    rounds: t.rounds,
    data: t.data,
  };
}

/**
 * The flags of `mitosis run` for a trial's configuration on the space file `spaceFile` (without `--out`,
 * `--resume` and `--json`): the only arguments a trial is ever given, so that a worker can rebuild them from the
 * configuration instead of trusting a list it was sent.
 */
export function trialArgs(
  t: Pick<PlannedTrial, 'method' | 'options' | 'budget' | 'device' | 'seed' | 'rounds' | 'data'>,
  spaceFile: string,
): string[] {
  return [
    '--method',
    t.method,
    ...(Object.keys(t.options).length > 0 ? ['--method-options', JSON.stringify(t.options)] : []),
    '--space',
    spaceFile,
    '--budget',
    budgetArgument(t.budget),
    ...(t.device === null ? [] : ['--profile', t.device]),
    ...(t.rounds === null ? [] : ['--rounds', String(t.rounds)]),
    '--seed',
    String(t.seed),
    ...(t.data === null ? [] : ['--data', t.data]),
  ];
}

/**
 * Expands a study (its paths already absolute, see `loadStudy`) into trials: every method × budget × device
 * × seed, ordered seed-major then budget, device and method. Reads the space to hash its content.
 */
export function expandStudy(study: Study, env: NodeJS.ProcessEnv = process.env): StudyPlan {
  const space = resolveSpace(study.space, process.cwd(), env);
  const spaces = new Map<string, ResolvedSpace>([[study.space, space]]);
  const spaceOf = (ref: string | undefined): ResolvedSpace => {
    const key = ref ?? study.space;
    let s = spaces.get(key);
    if (s === undefined) spaces.set(key, (s = resolveSpace(key, process.cwd(), env)));
    return s;
  };
  const budgets = study.budgets.values.map((value) => ({ value, unit: study.budgets.unit }));
  const trials: PlannedTrial[] = [];
  for (const seed of study.seeds) {
    for (const budget of budgets) {
      for (const device of study.devices) {
        for (const m of study.methods) {
          const base = {
            method: m.id,
            options: m.options,
            budget,
            device,
            seed,
            rounds: study.rounds ?? null,
            data: study.data ?? null,
          };
          const armSpace = spaceOf(m.space);
          const id = shortHash(trialConfig(armSpace, base));
          const args = trialArgs(base, armSpace.file);
          trials.push({ id, dir: join(STUDY_FILES.trials, id), label: m.label, ...base, args });
        }
      }
    }
  }
  const seen = new Map<string, PlannedTrial>();
  for (const t of trials) {
    const prev = seen.get(t.id);
    if (prev !== undefined) {
      // Only a SHA-256 prefix collision gets here: parseStudy already rejects repeated methods.
      throw new NasError('E_CONFIG_INVALID', `Trials ${prev.label}/${prev.seed} and ${t.label}/${t.seed} share the id ${t.id}`, {
        trial: t.id,
      });
    }
    seen.set(t.id, t);
  }
  return {
    format: 'mitosis-study-plan',
    version: 1,
    study: study.id,
    ...(study.description === undefined ? {} : { description: study.description }),
    space: { ref: space.ref, id: space.id, file: space.file, sha256: space.sha256 },
    methods: study.methods.map((m) => m.label),
    budgets,
    devices: study.devices,
    seeds: study.seeds,
    reference: study.reference ?? null,
    trials,
  };
}

/**
 * Writes a file atomically and durably (core's `writeFileAtomicSync`: temporary sibling, fsync, rename, folder
 * fsync), so a reader never sees half of it; failures are `E_FS_WRITE` naming the file.
 */
export function writeFileAtomic(file: string, text: string): void {
  writeFileAtomicSync(file, text, `write ${basename(file)}`);
}

/** Writes `study.json` (the normalised study) and `plan.json` into the study directory, creating it. */
export function writePlan(studyDir: string, study: Study, plan: StudyPlan): void {
  mkdirSync(join(studyDir, STUDY_FILES.trials), { recursive: true });
  writeFileAtomic(join(studyDir, STUDY_FILES.study), `${JSON.stringify(study, null, 2)}\n`);
  writeFileAtomic(join(studyDir, STUDY_FILES.plan), `${JSON.stringify(plan, null, 2)}\n`);
}

const budgetSchema = {
  type: 'object',
  properties: { value: { type: 'number' }, unit: { enum: ['macs', 'params', 'ms', 'mJ'] } },
  required: ['value', 'unit'],
} as const;

const planSchema = {
  type: 'object',
  properties: {
    format: { const: 'mitosis-study-plan' },
    version: { const: 1 },
    study: { type: 'string' },
    description: { type: 'string' },
    space: {
      type: 'object',
      properties: { ref: { type: 'string' }, id: { type: 'string' }, file: { type: 'string' }, sha256: { type: 'string' } },
      required: ['ref', 'id', 'file', 'sha256'],
    },
    methods: { type: 'array', items: { type: 'string' } },
    budgets: { type: 'array', items: budgetSchema },
    devices: { type: 'array', items: { type: ['string', 'null'] } },
    seeds: { type: 'array', items: { type: 'integer' } },
    reference: { type: ['string', 'null'] },
    trials: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: '^[0-9a-f]{12}$' },
          dir: { type: 'string' },
          label: { type: 'string' },
          method: { type: 'string' },
          options: { type: 'object' },
          budget: budgetSchema,
          device: { type: ['string', 'null'] },
          seed: { type: 'integer' },
          rounds: { type: ['integer', 'null'] },
          data: { type: ['string', 'null'] },
          args: { type: 'array', items: { type: 'string' } },
        },
        required: ['id', 'dir', 'label', 'method', 'options', 'budget', 'device', 'seed', 'rounds', 'data', 'args'],
      },
    },
  },
  required: ['format', 'version', 'study', 'space', 'methods', 'budgets', 'devices', 'seeds', 'reference', 'trials'],
} as const;

/**
 * Reads `<studyDir>/plan.json` (written by `mitosis compare`). `E_USAGE` when the directory holds no study,
 * `E_CONFIG_INVALID` (with pointers) when the plan is damaged.
 */
export function readPlan(studyDir: string): StudyPlan {
  const file = join(resolve(studyDir), STUDY_FILES.plan);
  if (!existsSync(file)) {
    throw new NasError('E_USAGE', `${studyDir} is not a study directory (no ${STUDY_FILES.plan}; run \`mitosis compare --out ${studyDir}\` first)`, {
      file,
    });
  }
  return validateAgainst<StudyPlan>(planSchema, readJsonFile(file), { source: file, what: 'study plan' });
}

/** True when the trial finished: its `summary.json` exists and parses (a run writes it last). */
export function trialDone(trialDir: string): boolean {
  const file = join(trialDir, TRIAL_FILES.summary);
  if (!existsSync(file)) return false;
  try {
    JSON.parse(readFileSync(file, 'utf8'));
    return true;
  } catch {
    return false;
  }
}
