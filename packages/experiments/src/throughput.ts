import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NasError } from '@mitosis/core';
import { formatDuration, runTrials, type ExecutorEvent, type TrialCommandFactory } from './executor.js';
import { expandStudy, type PlannedTrial } from './plan.js';
import type { Study } from './study.js';

/** One measurement of {@link benchmarkStudy}: the benchmarked trials run `jobs` at a time. */
export interface StudyThroughput {
  readonly jobs: number;
  readonly trials: number;
  /** Trials that ended without a summary; the measurement is then not the study's throughput. */
  readonly failed: number;
  /** From the first trial's start to the last one's end. */
  readonly wallMs: number;
  readonly trialsPerHour: number;
  /** `trialsPerHour` over the first measurement's (1 for the first). */
  readonly speedup: number;
  /** Mean wall time of one finished trial: it grows when parallel trials contend for cores or memory. */
  readonly meanTrialMs: number | null;
  /** The 1-minute load average when the measurement started: other work on the machine skews every figure. */
  readonly loadAverage: number;
  /** The temporary study directory, kept when a trial failed (its logs are there); null once removed. */
  readonly dir: string | null;
}

/** What {@link benchmarkStudy} measured. */
export interface StudyBenchmark {
  readonly format: 'mitosis-study-bench';
  readonly version: 1;
  readonly study: string;
  readonly space: string;
  /** Trials run per measurement (the study's first ones, in run order) and the study's total. */
  readonly trials: number;
  readonly studyTrials: number;
  /** Cores of this machine. */
  readonly cores: number;
  /** One per `jobs` value, in the order given; fewer when interrupted. */
  readonly runs: readonly StudyThroughput[];
  readonly interrupted: boolean;
}

/** Options of {@link benchmarkStudy}. */
export interface BenchmarkStudyOptions {
  /** The `--jobs` values measured, in order; the first is the baseline of `speedup`. */
  readonly jobs: readonly number[];
  /** Run only the study's first `limit` trials (run order: seed-major); default all. */
  readonly limit?: number;
  readonly command: TrialCommandFactory;
  /** Where the temporary study directories go (default the system's). */
  readonly tmpRoot?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Aborting stops the running measurement (its trials get SIGTERM) and skips the rest. */
  readonly signal?: AbortSignal;
  /** Called before each measurement, with its directory. */
  readonly onRun?: (jobs: number, dir: string, trials: readonly PlannedTrial[]) => void;
  readonly onEvent?: (jobs: number, event: ExecutorEvent) => void;
  /** Passed to the executor (tests shorten it). */
  readonly killGraceMs?: number;
}

/**
 * Measures a study's throughput with the local executor: for each `jobs` value, its first `limit` trials run
 * from scratch in a fresh temporary study directory, and the wall time gives trials per hour and the speed-up
 * over the first value. Directories are removed afterwards unless a trial failed. Nothing is written to a real
 * study directory, and no report is built (its time is not the executor's).
 */
export async function benchmarkStudy(study: Study, options: BenchmarkStudyOptions): Promise<StudyBenchmark> {
  if (options.jobs.length === 0 || options.jobs.some((j) => !Number.isInteger(j) || j < 1)) {
    throw new NasError('E_USAGE', `jobs must be integers ≥ 1, got ${options.jobs.join(', ') || 'none'}`, { jobs: options.jobs });
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) {
    throw new NasError('E_USAGE', `The trial limit must be an integer ≥ 1, got ${options.limit}`, { limit: options.limit });
  }
  const plan = expandStudy(study, options.env);
  const trials = plan.trials.slice(0, options.limit ?? plan.trials.length);
  const runs: StudyThroughput[] = [];
  let interrupted = options.signal?.aborted === true;
  for (const jobs of options.jobs) {
    if (interrupted) break;
    const dir = mkdtempSync(join(options.tmpRoot ?? tmpdir(), `mitosis-bench-study-j${jobs}-`));
    options.onRun?.(jobs, dir, trials);
    const loadAverage = loadavg()[0] ?? 0;
    const started = performance.now();
    const result = await runTrials(trials, {
      studyDir: dir,
      jobs,
      command: options.command,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onEvent === undefined ? {} : { onEvent: (e: ExecutorEvent) => options.onEvent?.(jobs, e) }),
      ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
    });
    const wallMs = performance.now() - started;
    if (result.interrupted) {
      interrupted = true;
      rmSync(dir, { recursive: true, force: true });
      break;
    }
    const done = result.outcomes.filter((o) => o.status === 'done');
    const failed = result.outcomes.filter((o) => o.status === 'failed').length;
    if (failed === 0) rmSync(dir, { recursive: true, force: true });
    const trialsPerHour = trials.length / (wallMs / 3_600_000);
    runs.push({
      jobs,
      trials: trials.length,
      failed,
      wallMs: Math.round(wallMs),
      trialsPerHour,
      speedup: runs.length === 0 ? 1 : trialsPerHour / (runs[0] as StudyThroughput).trialsPerHour,
      meanTrialMs: done.length === 0 ? null : Math.round(done.reduce((s, o) => s + o.wallMs, 0) / done.length),
      loadAverage,
      dir: failed === 0 ? null : dir,
    });
  }
  return {
    format: 'mitosis-study-bench',
    version: 1,
    study: plan.study,
    space: plan.space.id,
    trials: trials.length,
    studyTrials: plan.trials.length,
    cores: availableParallelism(),
    runs,
    interrupted,
  };
}

/** The benchmark as a table: one line per `jobs` value. */
export function formatStudyBenchmark(b: StudyBenchmark): string {
  const lines = [`study ${b.study} (${b.space}): ${b.trials} of ${b.studyTrials} trials per measurement, ${b.cores} cores`];
  const head = ['jobs', 'wall', 'trials/h', 'per trial', 'speed-up', 'load'];
  const rows = b.runs.map((r) => [
    String(r.jobs),
    formatDuration(r.wallMs),
    r.trialsPerHour.toFixed(1),
    r.meanTrialMs === null ? '—' : formatDuration(r.meanTrialMs),
    `${r.speedup.toFixed(2)}×`,
    r.loadAverage.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  for (const row of [head, ...rows]) lines.push(`  ${row.map((c, i) => c.padStart(widths[i] as number)).join('  ')}`);
  for (const r of b.runs) {
    if (r.failed > 0) lines.push(`  jobs ${r.jobs}: ${r.failed} trial(s) failed, so this is not the study's throughput; logs in ${r.dir ?? '?'}`);
  }
  if (b.interrupted) lines.push('  interrupted: the remaining measurements were not run');
  return `${lines.join('\n')}\n`;
}
