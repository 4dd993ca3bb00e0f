import { join } from 'node:path';
import { NasError, type Budget } from '@mitosis/core';
import { formatBudget } from './budget.js';
import { shortHash } from './canonical.js';
import { STUDY_FILES, trialArgs, trialConfig, type PlannedTrial, type StudyPlan } from './plan.js';
import { resolveSpace } from './space-ref.js';

/**
 * What `mitosis generate` makes: one model per device, each under its own budget, with one method on one
 * search space. Every device is an ordinary trial (a `mitosis run` directory), so generation is resumable and
 * runs in parallel exactly like a study.
 */
export interface GenerationRequest {
  /** Search space id or path. */
  readonly space: string;
  /** Hardware profile ids or files, one model each. */
  readonly devices: readonly string[];
  /** One budget for every device, or one per device (same order). */
  readonly budgets: readonly Budget[];
  readonly method: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly seed: number;
  /** Rounds per run; null: the space's default. */
  readonly rounds: number | null;
  /** Data set override; null: the space's. */
  readonly data: string | null;
}

/** One device of a generation: its trial and the budget it was given. */
export interface GenerationTarget {
  readonly device: string;
  readonly budget: Budget;
  readonly trial: PlannedTrial;
}

/** The budget of each device: one for all, or one each; `E_USAGE` for any other count. */
export function budgetsPerDevice(devices: readonly string[], budgets: readonly Budget[]): Budget[] {
  if (devices.length === 0) throw new NasError('E_USAGE', 'generate: give at least one device (--devices note10-cpu,myriad-vpu)', {});
  const repeated = devices.filter((d, i) => devices.indexOf(d) !== i);
  if (repeated.length > 0) throw new NasError('E_USAGE', `generate: device ${repeated[0]} is listed twice`, { device: repeated[0] });
  if (budgets.length === 1) return devices.map(() => budgets[0]!);
  if (budgets.length !== devices.length) {
    throw new NasError('E_USAGE', `generate: give one budget for every device or one per device (${devices.length} devices, ${budgets.length} budgets)`, {
      devices: devices.length,
      budgets: budgets.length,
    });
  }
  return [...budgets];
}

/**
 * Expands a generation into a study plan with one trial per device (its id hashes the same configuration as a
 * study trial, so the same device and budget in a study directory share their result). The plan's `study` id
 * is `generate-<space id>`.
 */
export function planGeneration(request: GenerationRequest, env: NodeJS.ProcessEnv = process.env): { plan: StudyPlan; targets: GenerationTarget[] } {
  const space = resolveSpace(request.space, process.cwd(), env);
  const budgets = budgetsPerDevice(request.devices, request.budgets);
  const targets = request.devices.map((device, i): GenerationTarget => {
    const budget = budgets[i]!;
    const base = {
      method: request.method,
      options: request.options,
      budget,
      device,
      seed: request.seed,
      rounds: request.rounds,
      data: request.data,
    };
    const id = shortHash(trialConfig(space, base));
    const args = trialArgs(base, space.file);
    return { device, budget, trial: { id, dir: join(STUDY_FILES.trials, id), label: device, ...base, args } };
  });
  const unique = new Map<string, Budget>();
  for (const b of budgets) unique.set(formatBudget(b), b);
  const plan: StudyPlan = {
    format: 'mitosis-study-plan',
    version: 1,
    study: `generate-${space.id}`,
    description: `mitosis generate: ${request.method} on ${space.id} for ${request.devices.join(', ')}`,
    space: { ref: space.ref, id: space.id, file: space.file, sha256: space.sha256 },
    methods: [...request.devices],
    budgets: [...unique.values()],
    devices: [...request.devices],
    seeds: [request.seed],
    reference: null,
    trials: targets.map((t) => t.trial),
  };
  return { plan, targets };
}

/** Files of a generation directory besides the study ones. */
export const GENERATION_FILES = {
  request: 'generate.json',
  reportMd: 'generate-report.md',
  reportJson: 'generate-report.json',
  models: 'models',
} as const;
