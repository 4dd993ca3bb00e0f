import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COST_UNITS, type CostUnit } from '@mitosis/core';
import type { StudyBudget } from './budget.js';
import { STUDY_FILES, TRIAL_FILES, trialDone, writeFileAtomic, type StudyPlan } from './plan.js';

/** Where a trial stands: finished (`summary.json`), failed (its process ended without one), or not finished. */
export type ResultStatus = 'done' | 'failed' | 'incomplete';

/** One trial in `results.json` / `results.csv`: its configuration and, when done, its summary's figures. */
export interface ResultRow {
  readonly trial: string;
  /** Trial directory relative to the study directory. */
  readonly dir: string;
  readonly label: string;
  readonly method: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly budget: StudyBudget;
  /** The device the study asked for (`null`: none given). */
  readonly device: string | null;
  readonly seed: number;
  readonly status: ResultStatus;
  /** The device the run priced against (its summary's `device`). */
  readonly runDevice: string | null;
  readonly kind: string | null;
  readonly stopReason: string | null;
  readonly rounds: number | null;
  readonly testAccuracy: number | null;
  readonly testLoss: number | null;
  readonly valAccuracy: number | null;
  readonly valLoss: number | null;
  readonly trainLoss: number | null;
  /** Final cost in every unit the run could price (`null` where it could not). */
  readonly cost: Readonly<Record<CostUnit, number | null>>;
  /** Final cost / budget in the budget's unit. */
  readonly budgetUsed: number | null;
  readonly budgetMet: boolean | null;
  /** Total epochs trained. */
  readonly epochs: number | null;
  readonly wallMs: number | null;
  readonly widths: Readonly<Record<string, number>>;
  /** For failed trials: the exit code of the last attempt. */
  readonly exitCode: number | null;
  /** For failed trials: the error recorded with the failure (`exit.json`'s `error`; the Redis executor writes one). */
  readonly error: string | null;
}

/** `results.json`. */
export interface StudyResults {
  readonly format: 'mitosis-study-results';
  readonly version: 1;
  readonly study: string;
  readonly space: string;
  readonly reference: string | null;
  readonly counts: { readonly total: number; readonly done: number; readonly failed: number; readonly incomplete: number };
  readonly trials: readonly ResultRow[];
}

/** One point of a trial's learning curve, from `events.jsonl`: after seed training, a round, or final training. */
export interface RoundPoint {
  readonly type: 'seed' | 'round' | 'final';
  readonly round: number;
  /** Epochs trained so far (cumulative); null when the event does not say. */
  readonly epochs: number | null;
  readonly valAccuracy: number | null;
  readonly testAccuracy: number | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Rebuilds every trial's row from its directory: the plan gives the set of trials (each exactly once), the
 * trial directories give their state and figures. Nothing is carried over from an earlier `results.json`.
 */
export function collectResults(studyDir: string, plan: StudyPlan): StudyResults {
  const trials = plan.trials.map((t): ResultRow => {
    const dir = join(studyDir, t.dir);
    const done = trialDone(dir);
    const summary = done ? obj(readJson(join(dir, TRIAL_FILES.summary))) : {};
    const exit = obj(readJson(join(dir, TRIAL_FILES.exit)));
    const status: ResultStatus = done ? 'done' : exit['status'] === 'failed' ? 'failed' : 'incomplete';
    const final = obj(summary['final']);
    const costIn = obj(summary['cost']);
    const cost = Object.fromEntries(COST_UNITS.map((u) => [u, num(costIn[u])])) as Record<CostUnit, number | null>;
    const widths = Object.fromEntries(
      Object.entries(obj(summary['widths'])).filter((e): e is [string, number] => typeof e[1] === 'number'),
    );
    const epochs = obj(summary['epochs']);
    const fromCost = cost[t.budget.unit];
    const budgetUsed = num(summary['budgetUsed']) ?? (done && fromCost !== null ? fromCost / t.budget.value : null);
    return {
      trial: t.id,
      dir: t.dir,
      label: t.label,
      method: t.method,
      options: t.options,
      budget: t.budget,
      device: t.device,
      seed: t.seed,
      status,
      runDevice: typeof summary['device'] === 'string' ? summary['device'] : null,
      kind: typeof summary['kind'] === 'string' ? summary['kind'] : null,
      stopReason: typeof summary['stopReason'] === 'string' ? summary['stopReason'] : null,
      rounds: num(summary['rounds']),
      testAccuracy: num(final['testAccuracy']),
      testLoss: num(final['testLoss']),
      valAccuracy: num(final['valAccuracy']),
      valLoss: num(final['valLoss']),
      trainLoss: num(final['trainLoss']),
      cost,
      budgetUsed,
      budgetMet: typeof summary['budgetMet'] === 'boolean' ? summary['budgetMet'] : null,
      epochs: num(epochs['total']),
      wallMs: num(summary['wallMs']),
      widths,
      exitCode: status === 'failed' ? num(exit['exitCode']) : null,
      error: status === 'failed' && typeof exit['error'] === 'string' ? exit['error'] : null,
    };
  });
  const count = (s: ResultStatus): number => trials.filter((r) => r.status === s).length;
  return {
    format: 'mitosis-study-results',
    version: 1,
    study: plan.study,
    space: plan.space.id,
    reference: plan.reference,
    counts: { total: trials.length, done: count('done'), failed: count('failed'), incomplete: count('incomplete') },
    trials,
  };
}

/**
 * A trial's accuracy per round from its `events.jsonl`: the `seed` event (round 0), every `round` event and
 * a `final` event, in that order. Unreadable lines are skipped (a killed run may leave half a line); a round
 * logged twice (a resumed run repeats the round it was killed in) keeps its last record, and a `resume` event of
 * round R drops the records logged after round R before it (a `start` event, everything before it).
 */
export function readRoundCurve(trialDir: string): RoundPoint[] {
  const file = join(trialDir, TRIAL_FILES.events);
  if (!existsSync(file)) return [];
  const byKey = new Map<string, RoundPoint>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let e: Record<string, unknown>;
    try {
      e = obj(JSON.parse(line));
    } catch {
      continue;
    }
    const type = e['type'];
    const round = num(e['round']);
    // The log is append-only: a `start` begins it afresh; a `resume` of round R drops what was logged after R.
    if (type === 'start') byKey.clear();
    if (type === 'resume' && round !== null) {
      for (const [key, point] of byKey) if (point.type === 'final' || point.round > round) byKey.delete(key);
    }
    if ((type !== 'seed' && type !== 'round' && type !== 'final') || round === null) continue;
    byKey.set(`${type}:${round}`, { type, round, epochs: num(e['epochs']), valAccuracy: num(e['valAccuracy']), testAccuracy: num(e['testAccuracy']) });
  }
  const rank = { seed: 0, round: 1, final: 2 } as const;
  return [...byKey.values()].sort((a, b) => rank[a.type] - rank[b.type] || a.round - b.round);
}

const CSV_COLUMNS = [
  'trial',
  'status',
  'label',
  'method',
  'options',
  'budget_value',
  'budget_unit',
  'device',
  'run_device',
  'seed',
  'kind',
  'stop_reason',
  'rounds',
  'test_accuracy',
  'test_loss',
  'val_accuracy',
  'train_loss',
  'macs',
  'params',
  'ms',
  'mJ',
  'budget_used',
  'budget_met',
  'epochs',
  'wall_ms',
  'widths',
  'dir',
] as const;

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows as CSV (RFC 4180 quoting), one line per trial; widths as `conv1=8;conv2=16`. */
export function resultsCsv(results: StudyResults): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of results.trials) {
    const values: unknown[] = [
      r.trial,
      r.status,
      r.label,
      r.method,
      Object.keys(r.options).length === 0 ? '' : r.options,
      r.budget.value,
      r.budget.unit,
      r.device,
      r.runDevice,
      r.seed,
      r.kind,
      r.stopReason,
      r.rounds,
      r.testAccuracy,
      r.testLoss,
      r.valAccuracy,
      r.trainLoss,
      r.cost.macs,
      r.cost.params,
      r.cost.ms,
      r.cost.mJ,
      r.budgetUsed,
      r.budgetMet,
      r.epochs,
      r.wallMs,
      Object.entries(r.widths)
        .map(([k, v]) => `${k}=${v}`)
        .join(';'),
      r.dir,
    ];
    lines.push(values.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Rebuilds and writes `results.json` and `results.csv` (atomically); returns the results. */
export function writeResults(studyDir: string, plan: StudyPlan): StudyResults {
  const results = collectResults(studyDir, plan);
  writeFileAtomic(join(studyDir, STUDY_FILES.results), `${JSON.stringify(results, null, 2)}\n`);
  writeFileAtomic(join(studyDir, STUDY_FILES.csv), resultsCsv(results));
  return results;
}
