import { validateAgainst } from '@mitosis/core';
import { sha256Hex } from '../canonical.js';
import type { PlannedTrial } from '../plan.js';

/**
 * What coordinator and workers say to each other through Redis: one BullMQ queue per study, one job per trial
 * (job id = trial id), a registry hash that tells workers which study queues exist, and the shapes of a job's
 * data, its return value and the failure notes a worker logs on the job.
 */

/** BullMQ key prefix of every queue (keys are `mitosis:<queue>:…`). */
export const QUEUE_PREFIX = 'mitosis';
/** Hash of the studies being run: queue name → {@link RegistryEntry} (JSON). Workers serve what it lists. */
export const REGISTRY_KEY = 'mitosis:registry:studies';
/** BullMQ job name of a trial. */
export const TRIAL_JOB = 'trial';

/**
 * The queue of a study: `study-<id>-<8 hex of the study directory>`, so that two studies (or one study id run
 * into two directories) never share jobs. BullMQ forbids `:`; other odd characters become `-`.
 */
export function studyQueueName(study: string, studyDir: string): string {
  const id = study.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
  return `study-${id}-${sha256Hex(studyDir).slice(0, 8)}`;
}

/** A registry entry: the study a queue belongs to and the coordinator that registered it. */
export interface RegistryEntry {
  readonly study: string;
  readonly queue: string;
  readonly studyDir: string;
  readonly coordinator: string;
  readonly since: string;
}

/** The data of a trial job. */
export interface TrialJobData {
  readonly format: 'mitosis-trial-job';
  readonly version: 1;
  readonly study: string;
  /** The coordinator's study directory: where `--shared-dir` workers write the trial. */
  readonly studyDir: string;
  readonly trial: PlannedTrial;
  /** The trial's search space file as the coordinator read it (workers without that file use this copy). */
  readonly space: { readonly file: string; readonly sha256: string; readonly text: string };
}

/** A finished trial: the job's return value. `files` (base64) when the artifacts travel through Redis. */
export interface TrialJobResult {
  readonly format: 'mitosis-trial-result';
  readonly version: 1;
  readonly trial: string;
  readonly mode: 'redis' | 'shared';
  readonly worker: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly wallMs: number;
  /** The trial directory on the worker (summary paths under it are rewritten to the coordinator's). */
  readonly dir: string;
  readonly files?: Readonly<Record<string, string>>;
  readonly bytes?: number;
}

/** What a worker logs on a job (BullMQ job log, one JSON line) when an attempt ends without a result. */
export interface AttemptNote {
  readonly type: 'attempt-failed';
  readonly worker: string;
  readonly attempt: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly wallMs: number;
  readonly error: string;
  readonly logTail: readonly string[];
}

const budgetSchema = {
  type: 'object',
  properties: { value: { type: 'number' }, unit: { enum: ['macs', 'params', 'ms', 'mJ'] } },
  required: ['value', 'unit'],
  additionalProperties: false,
} as const;

const jobSchema = {
  type: 'object',
  properties: {
    format: { const: 'mitosis-trial-job' },
    version: { const: 1 },
    study: { type: 'string', maxLength: 256 },
    studyDir: { type: 'string', minLength: 1, maxLength: 4096 },
    trial: {
      type: 'object',
      properties: {
        id: { type: 'string', pattern: '^[0-9a-f]{12}$' },
        dir: { type: 'string', pattern: '^trials/[0-9a-f]{12}$' },
        label: { type: 'string', maxLength: 256 },
        method: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 128 },
        options: { type: 'object' },
        budget: budgetSchema,
        device: { type: ['string', 'null'], maxLength: 4096 },
        seed: { type: 'integer' },
        rounds: { type: ['integer', 'null'], minimum: 0 },
        data: { type: ['string', 'null'], maxLength: 4096 },
        args: { type: 'array', items: { type: 'string' }, maxItems: 64 },
      },
      required: ['id', 'dir', 'label', 'method', 'options', 'budget', 'device', 'seed', 'rounds', 'data', 'args'],
      additionalProperties: false,
    },
    space: {
      type: 'object',
      properties: {
        file: { type: 'string', minLength: 1, maxLength: 4096 },
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        text: { type: 'string', maxLength: 16 * 1024 * 1024 },
      },
      required: ['file', 'sha256', 'text'],
      additionalProperties: false,
    },
  },
  required: ['format', 'version', 'study', 'studyDir', 'trial', 'space'],
  additionalProperties: false,
} as const;

/** Checks a job's data (it comes from Redis: anyone who can write there could have put it). */
export function parseTrialJob(data: unknown, jobId: string): TrialJobData {
  const job = validateAgainst<TrialJobData>(jobSchema, data, { source: `job ${jobId}`, what: 'trial job' });
  return job;
}

/** The note of a failed attempt, or undefined for a log line that is not one. */
export function parseAttemptNote(line: string): AttemptNote | undefined {
  try {
    const v = JSON.parse(line) as Partial<AttemptNote>;
    if (v.type !== 'attempt-failed' || typeof v.error !== 'string') return undefined;
    return {
      type: 'attempt-failed',
      worker: typeof v.worker === 'string' ? v.worker : '?',
      attempt: typeof v.attempt === 'number' ? v.attempt : 0,
      exitCode: typeof v.exitCode === 'number' ? v.exitCode : null,
      signal: typeof v.signal === 'string' ? v.signal : null,
      wallMs: typeof v.wallMs === 'number' ? v.wallMs : 0,
      error: v.error,
      logTail: Array.isArray(v.logTail) ? v.logTail.filter((l): l is string => typeof l === 'string').slice(-50) : [],
    };
  } catch {
    return undefined;
  }
}
