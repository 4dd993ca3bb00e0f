import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TRIAL_FILES, trialDone, writeFileAtomic, type PlannedTrial } from './plan.js';

/** The process that runs one trial. */
export interface TrialCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the parent's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Builds the command of a trial; `trialDir` is absolute. Injectable so tests can run a fake trial script. */
export type TrialCommandFactory = (trial: PlannedTrial, trialDir: string) => TrialCommand;

/**
 * The default trial command: `node <cliMain> run <trial flags> --json [--resume] --out <trialDir>`, with
 * `globalArgs` (`--no-discover`, `--plugin <dir>`) at the end. `--resume` is passed once the trial directory
 * holds a run (its `run.json` or `events.jsonl`), so that a killed trial continues where it stopped; on a
 * fresh directory `mitosis run --resume` would refuse, having nothing to resume.
 */
export function mitosisRunCommand(cliMain: string, globalArgs: readonly string[] = []): TrialCommandFactory {
  return (trial, trialDir) => {
    const started = ['run.json', 'events.jsonl'].some((f) => existsSync(join(trialDir, f)));
    return {
      command: process.execPath,
      args: [cliMain, 'run', ...trial.args, '--json', ...(started ? ['--resume'] : []), '--out', trialDir, ...globalArgs],
    };
  };
}

/**
 * How a trial ended in this invocation. `skipped`: it was already done; `interrupted`: the study was stopped,
 * or the trial was stopped by SIGINT, SIGTERM or SIGHUP (exit 130 / 143), so it resumes on the next run.
 */
export type TrialStatus = 'skipped' | 'done' | 'failed' | 'interrupted';

/** The end of one trial. */
export interface TrialOutcome {
  readonly trial: PlannedTrial;
  readonly status: TrialStatus;
  /** Exit code of the trial process (null when it was killed by a signal, or skipped). */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Wall time of this attempt (0 when skipped). */
  readonly wallMs: number;
  /** Absolute path of the trial's log (its stdout and stderr, every attempt appended). */
  readonly log: string;
  /** The last lines of the log, for failures. */
  readonly logTail: readonly string[];
}

/** Counts shown while a study runs. */
export interface ExecutorProgress {
  readonly total: number;
  /** Already done before this invocation. */
  readonly skipped: number;
  readonly done: number;
  readonly failed: number;
  readonly running: number;
  readonly pending: number;
  /** Estimated time to finish, from the mean wall time of the trials finished so far; null before the first. */
  readonly etaMs: number | null;
  readonly elapsedMs: number;
}

/** What {@link runTrials} reports as it goes. */
export type ExecutorEvent =
  | { readonly type: 'start'; readonly trial: PlannedTrial; readonly progress: ExecutorProgress }
  | { readonly type: 'finish'; readonly outcome: TrialOutcome; readonly progress: ExecutorProgress };

/** Options of {@link runTrials}. */
export interface ExecutorOptions {
  /** The study directory; trial directories are `<studyDir>/<trial.dir>`. */
  readonly studyDir: string;
  /** The study's id (the Redis executor names its queue after it). */
  readonly study?: string;
  /** Trials run at once (default: the number of cores). */
  readonly jobs?: number;
  readonly command: TrialCommandFactory;
  /** Aborting stops new trials, sends SIGTERM to running ones (SIGKILL after `killGraceMs`) and returns. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: ExecutorEvent) => void;
  /** Default 10 000. */
  readonly killGraceMs?: number;
  /** Lines of the log kept in a failure's outcome (default 15). */
  readonly tailLines?: number;
}

/**
 * Runs a study's trials and reports them as {@link runTrials} does: the local executor is `runTrials` itself; the
 * Redis one (`redisExecutor`) hands them to `mitosis worker` processes. `options.studyDir` holds the results.
 */
export type TrialExecutor = (
  trials: readonly PlannedTrial[],
  options: ExecutorOptions,
) => Promise<{ outcomes: TrialOutcome[]; interrupted: boolean }>;

/** The default `--jobs`: one trial per core (the wasm backend is single-threaded). */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** The last `n` non-empty lines of a file ([] when it cannot be read). */
export function lastLines(file: string, n: number): string[] {
  if (!existsSync(file)) return [];
  try {
    const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim().length > 0);
    return lines.slice(-n);
  } catch {
    return [];
  }
}

/** A trial process started by {@link launchTrial}. */
export interface LaunchedTrial {
  readonly child: ChildProcess;
  /** When it started (ms since the epoch). */
  readonly since: number;
  /** Settles when the process has exited (or could not start: exit code and signal null). */
  readonly exited: Promise<{ readonly exitCode: number | null; readonly signal: string | null; readonly wallMs: number }>;
}

/**
 * Starts one trial in `dir` (absolute) the way every executor does: creates the directory, writes `trial.json`,
 * removes a stale `exit.json`, and runs `command` with stdout and stderr appended to `trial.log` after a header
 * line (`# <time> <command line>`). `MITOSIS_PARENT_PID` is this process, so the trial stops when it is gone.
 */
export function launchTrial(trial: PlannedTrial, dir: string, command: TrialCommandFactory, extraEnv: Readonly<Record<string, string>> = {}): LaunchedTrial {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, TRIAL_FILES.trial), `${JSON.stringify({ format: 'mitosis-trial', version: 1, ...trial }, null, 2)}\n`);
  rmSync(join(dir, TRIAL_FILES.exit), { force: true });
  const cmd = command(trial, dir);
  const fd = openSync(join(dir, TRIAL_FILES.log), 'a');
  writeSync(fd, `# ${new Date().toISOString()} ${[cmd.command, ...cmd.args].join(' ')}\n`);
  const since = Date.now();
  const child = spawn(cmd.command, [...cmd.args], {
    stdio: ['ignore', fd, fd],
    // The trial watches this pid and stops when the executor is gone (a SIGKILL of compare must not leave an
    // orphan writing into the trial directory that a re-run will take over).
    env: { ...process.env, MITOSIS_PARENT_PID: String(process.pid), ...extraEnv, ...(cmd.env ?? {}) },
  });
  const exited = new Promise<{ exitCode: number | null; signal: string | null; wallMs: number }>((resolveExit) => {
    let settled = false;
    const finish = (exitCode: number | null, signal: string | null): void => {
      if (settled) return;
      settled = true;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      resolveExit({ exitCode, signal, wallMs: Date.now() - since });
    };
    child.on('error', (error) => {
      try {
        writeSync(fd, `# could not start the trial: ${error.message}\n`);
      } catch {
        // the log is closed
      }
      finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
  return { child, since, exited };
}

/**
 * Runs the trials that are not done yet, at most `jobs` at a time, each in its own process with stdout and
 * stderr appended to `<trialDir>/trial.log`. A trial is done when its `summary.json` exists after the
 * process exits (whatever the exit code: a run outside its budget exits 1 but is a result); otherwise it
 * failed, `exit.json` records the exit, and the other trials go on. Trials already done are skipped;
 * unfinished ones start again (the command passes `--resume`, so a killed run continues from its last
 * round). Writes `trial.json` (the trial's configuration) into each directory it starts.
 */
export async function runTrials(
  trials: readonly PlannedTrial[],
  options: ExecutorOptions,
): Promise<{ outcomes: TrialOutcome[]; interrupted: boolean }> {
  const jobs = Math.max(1, Math.floor(options.jobs ?? defaultJobs()));
  const tailLines = options.tailLines ?? 15;
  const grace = options.killGraceMs ?? 10_000;
  const started = Date.now();
  const outcomes: TrialOutcome[] = [];
  const queue: PlannedTrial[] = [];
  const dirOf = (t: PlannedTrial): string => join(options.studyDir, t.dir);
  const logOf = (t: PlannedTrial): string => join(dirOf(t), TRIAL_FILES.log);

  for (const t of trials) {
    if (trialDone(dirOf(t))) {
      outcomes.push({ trial: t, status: 'skipped', exitCode: null, signal: null, wallMs: 0, log: logOf(t), logTail: [] });
    } else queue.push(t);
  }
  const skipped = outcomes.length;
  const running = new Map<ChildProcess, { trial: PlannedTrial; since: number }>();
  const durations: number[] = [];
  let done = 0;
  let failed = 0;
  let aborted = options.signal?.aborted === true;

  const progress = (): ExecutorProgress => {
    const now = Date.now();
    let etaMs: number | null = null;
    if (durations.length > 0) {
      const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
      let work = queue.length * mean;
      for (const { since } of running.values()) work += Math.max(mean - (now - since), 0);
      const lanes = Math.min(jobs, queue.length + running.size);
      etaMs = lanes === 0 ? 0 : work / lanes;
    }
    return {
      total: trials.length,
      skipped,
      done,
      failed,
      running: running.size,
      pending: queue.length,
      etaMs,
      elapsedMs: now - started,
    };
  };

  const runOne = async (trial: PlannedTrial): Promise<void> => {
    const dir = dirOf(trial);
    const proc = launchTrial(trial, dir, options.command);
    running.set(proc.child, { trial, since: proc.since });
    options.onEvent?.({ type: 'start', trial, progress: progress() });
    const { exitCode, signal, wallMs } = await proc.exited;
    running.delete(proc.child);
    const ok = trialDone(dir);
    // Ctrl-C reaches the trials (same process group) before the study's own handler: a trial stopped by
    // SIGINT / SIGTERM / SIGHUP was interrupted, not broken, and resumes on the next run.
    const stopped = signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP' || exitCode === 130 || exitCode === 143;
    const status: TrialStatus = ok ? 'done' : aborted || stopped ? 'interrupted' : 'failed';
    if (ok) {
      done++;
      durations.push(wallMs);
    } else {
      if (status === 'failed') {
        failed++;
        durations.push(wallMs);
      }
      writeFileAtomic(join(dir, TRIAL_FILES.exit), `${JSON.stringify({ status, exitCode, signal, wallMs }, null, 2)}\n`);
    }
    const outcome: TrialOutcome = {
      trial,
      status,
      exitCode,
      signal,
      wallMs,
      log: logOf(trial),
      logTail: ok ? [] : lastLines(logOf(trial), tailLines),
    };
    outcomes.push(outcome);
    options.onEvent?.({ type: 'finish', outcome, progress: progress() });
  };

  const onAbort = (): void => {
    aborted = true;
    for (const child of running.keys()) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const child of running.keys()) child.kill('SIGKILL');
    }, grace);
    timer.unref();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const lane = async (): Promise<void> => {
      for (;;) {
        if (aborted) return;
        const next = queue.shift();
        if (next === undefined) return;
        await runOne(next);
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, Math.max(queue.length, 1)) }, () => lane()));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  const order = new Map(trials.map((t, i) => [t.id, i]));
  outcomes.sort((a, b) => (order.get(a.trial.id) ?? 0) - (order.get(b.trial.id) ?? 0));
  return { outcomes, interrupted: aborted };
}

/** `3m05s`, `1h02m`, `42s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** One status line: `12/48 done (4 skipped), 2 running, 1 failed, ETA 14m05s`. */
export function formatProgress(p: ExecutorProgress): string {
  const finished = p.skipped + p.done;
  const eta = p.etaMs === null ? 'ETA unknown' : `ETA ${formatDuration(p.etaMs)}`;
  return `${finished}/${p.total} done${p.skipped > 0 ? ` (${p.skipped} skipped)` : ''}, ${p.running} running, ${p.failed} failed, ${eta}`;
}
