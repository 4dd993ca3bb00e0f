import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { ensureDirectory, writeFileAtomicSync } from '@mitosis/core';
import { sha256Hex, shortHash } from '../canonical.js';
import { defaultJobs, lastLines, launchTrial, type LaunchedTrial, type TrialCommandFactory } from '../executor.js';
import { STUDY_FILES, TRIAL_FILES, trialArgs, trialConfig, trialDone, type PlannedTrial } from '../plan.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, packArtifacts } from './artifacts.js';
import { bullConnection, connectRedis, describeRedisError, RedisWatch } from './connection.js';
import {
  parseTrialJob,
  QUEUE_PREFIX,
  REGISTRY_KEY,
  type AttemptNote,
  type RegistryEntry,
  type TrialJobData,
  type TrialJobResult,
} from './protocol.js';
import { redactRedisUrls, type RedisTarget } from './redis-url.js';

/** Options of {@link startTrialWorker}. */
export interface TrialWorkerOptions {
  readonly redis: RedisTarget;
  /** Builds a trial's process: the same factory as the local executor's (`mitosisRunCommand`). */
  readonly command: TrialCommandFactory;
  /** Trials run at once, over every study served (default: the number of cores). */
  readonly jobs?: number;
  /**
   * Write each trial into the coordinator's study directory, which must be visible at the same path here (NFS or
   * similar): a retried trial resumes from its last checkpoint. Otherwise (the default) trials run in `workDir`
   * and their files travel back through Redis.
   */
  readonly sharedDir?: boolean;
  /** Where trials run when the artifacts travel through Redis (default `<tmpdir>/mitosis-worker`). */
  readonly workDir?: string;
  /** Serve only this study id (default: every study in the registry). */
  readonly study?: string;
  /** This worker's name in logs and on jobs (default `<hostname>:<pid>`). */
  readonly name?: string;
  /**
   * Refuses a trial this machine cannot run (a method that is not installed, options that do not validate, a
   * hardware profile it lacks) by throwing; the attempt fails with that message.
   */
  readonly checkTrial?: (trial: PlannedTrial) => Promise<void> | void;
  /** Bound on a finished trial's files sent through Redis (default {@link DEFAULT_MAX_ARTIFACT_BYTES}). */
  readonly maxArtifactBytes?: number;
  /** BullMQ lock duration: a worker silent this long loses its trials to others (default 30 000 ms). */
  readonly lockMs?: number;
  /** How often this worker looks for trials stalled by dead workers (default: `lockMs`). */
  readonly stalledIntervalMs?: number;
  /** Times a trial may be taken back from dead workers before it fails (default 2). */
  readonly maxStalledCount?: number;
  /** How often the study registry is read (default 2000 ms). */
  readonly pollMs?: number;
  /** How often a running trial's round is reported to the coordinator (default 1000 ms). */
  readonly progressMs?: number;
  /** Log lines kept in a failed attempt's note (default 15). */
  readonly tailLines?: number;
  readonly onEvent?: (event: WorkerEvent) => void;
}

/** What a worker reports as it goes (the CLI prints these). */
export type WorkerEvent =
  | { readonly type: 'serve'; readonly study: string; readonly queue: string }
  | { readonly type: 'unserve'; readonly study: string; readonly queue: string }
  | { readonly type: 'start'; readonly study: string; readonly trial: PlannedTrial; readonly attempt: number; readonly dir: string; readonly resumed: boolean }
  | {
      readonly type: 'finish';
      readonly study: string;
      readonly trial: PlannedTrial;
      /** `returned`: handed back to the queue because this worker is stopping. */
      readonly status: 'done' | 'failed' | 'returned' | 'refused';
      readonly wallMs: number;
      readonly error?: string;
    }
  | { readonly type: 'warning'; readonly message: string };

/** A running worker. */
export interface TrialWorker {
  readonly name: string;
  /**
   * Stops taking trials, stops the running ones (SIGTERM) and hands them back to their queues at once, so that
   * another worker (or this one, restarted) continues them; resolves when every connection is closed.
   */
  stop(): Promise<void>;
}

/** Waits for a free slot among `jobs`, whichever study queue the trial came from. */
class Slots {
  private used = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(
    private readonly size: number,
    private readonly onFull: () => void,
    private readonly onFree: () => void,
  ) {}

  async acquire(): Promise<void> {
    if (this.used >= this.size) await new Promise<void>((r) => this.waiters.push(r));
    else this.used++;
    if (this.used >= this.size) this.onFull();
  }

  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else {
      this.used--;
      this.onFree();
    }
  }
}

const errorText = (error: unknown): string => redactRedisUrls(error instanceof Error ? error.message : String(error));

/**
 * `mitosis worker`: takes trials from every study queue in the registry (or one, with `study`) and runs each in
 * its own process with the local executor's command, `jobs` at a time. Reports progress on the job (a `start`
 * and then the latest round), returns a finished trial's files through Redis or leaves them in the shared study
 * directory, and logs a note (exit, error, log tail) on the job for an attempt that ends without a result.
 * Refuses jobs whose data does not check out (schema, trial id against its configuration, arguments rebuilt from
 * the configuration) and, through `checkTrial`, trials this machine cannot run. `E_BACKEND_UNAVAILABLE` when
 * Redis cannot be reached at start.
 */
export async function startTrialWorker(options: TrialWorkerOptions): Promise<TrialWorker> {
  const target = options.redis;
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const jobs = Math.max(1, Math.floor(options.jobs ?? defaultJobs()));
  const workDir = options.workDir ?? join(tmpdir(), 'mitosis-worker');
  const lockMs = options.lockMs ?? 30_000;
  const tailLines = options.tailLines ?? 15;
  const maxArtifactBytes = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const emit = (e: WorkerEvent): void => options.onEvent?.(e);
  const pre = await connectRedis(target, 'start it or fix the URL, then start the worker again');
  pre.disconnect();
  if (!options.sharedDir) mkdirSync(workDir, { recursive: true });

  const watch = new RedisWatch(target);
  await watch.ready();
  const served = new Map<string, { worker: Worker; entry: RegistryEntry; active: number }>();
  const running = new Map<string, LaunchedTrial>();
  let stopping = false;
  /** Set when a stop waited in vain for Redis: the connections stop reconnecting and close. */
  let givenUp = false;
  const warned = new Set<string>();
  const warn = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    emit({ type: 'warning', message: redactRedisUrls(message) });
  };

  const slots = new Slots(
    jobs,
    () => {
      for (const s of served.values()) void s.worker.pause(true).catch(() => undefined);
    },
    () => {
      if (stopping) return;
      for (const s of served.values()) if (s.worker.isPaused()) s.worker.resume();
    },
  );

  /** The space file the trial runs on: the coordinator's path when it holds the same text here, else a copy. */
  const spaceFile = (space: TrialJobData['space']): string => {
    if (existsSync(space.file)) {
      try {
        if (sha256Hex(readFileSync(space.file, 'utf8')) === space.sha256) return space.file;
      } catch {
        // unreadable here: use the copy
      }
    }
    const dir = join(workDir, 'spaces');
    const file = join(dir, `${space.sha256.slice(0, 16)}.json`);
    if (!existsSync(file)) {
      ensureDirectory(dir, 'create the worker folder');
      writeFileAtomicSync(file, space.text, 'write a study search space');
    }
    return file;
  };

  const note = async (job: Job, n: Omit<AttemptNote, 'type' | 'worker' | 'attempt'>): Promise<void> => {
    const full: AttemptNote = { type: 'attempt-failed', worker: name, attempt: job.attemptsMade + 1, ...n };
    await job.log(JSON.stringify(full)).catch(() => undefined);
  };

  /** Reads the job and checks it describes the trial it claims to be; an UnrecoverableError otherwise. */
  const checkJob = (job: Job): { data: TrialJobData; trial: PlannedTrial } => {
    let data: TrialJobData;
    try {
      data = parseTrialJob(job.data, String(job.id));
    } catch (error) {
      throw new UnrecoverableError(`not a mitosis trial job: ${errorText(error)}`);
    }
    const t = data.trial;
    if (job.id !== t.id) throw new UnrecoverableError(`job ${job.id} carries trial ${t.id}`);
    let content: unknown;
    try {
      content = JSON.parse(data.space.text);
    } catch {
      throw new UnrecoverableError('the job carries a search space that is not JSON');
    }
    if (sha256Hex(data.space.text) !== data.space.sha256) throw new UnrecoverableError('the search space text does not match its hash');
    if (shortHash(trialConfig({ content }, t)) !== t.id) {
      throw new UnrecoverableError(`trial ${t.id}: its configuration does not hash to its id (a damaged or forged job)`);
    }
    // The flags are rebuilt from the configuration: a job cannot make `mitosis run` load a plugin or write elsewhere.
    if (!isDeepStrictEqual(trialArgs(t, data.space.file), [...t.args])) {
      throw new UnrecoverableError(`trial ${t.id}: its arguments are not those of its configuration`);
    }
    return { data, trial: { ...t, args: trialArgs(t, spaceFile(data.space)) } };
  };

  const roundOf = (dir: string): number | null => {
    const file = join(dir, TRIAL_FILES.events);
    if (!existsSync(file)) return null;
    let last: number | null = null;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes('"round"')) continue;
      try {
        const e = JSON.parse(line) as { type?: unknown; round?: unknown };
        if ((e.type === 'seed' || e.type === 'round') && typeof e.round === 'number') last = e.round;
      } catch {
        // a half-written line
      }
    }
    return last;
  };

  const processor = (entry: RegistryEntry) => async (job: Job, token?: string, signal?: AbortSignal): Promise<TrialJobResult> => {
    const { data, trial } = checkJob(job);
    const study = data.study;
    try {
      await options.checkTrial?.(data.trial);
    } catch (error) {
      const message = `worker ${name} cannot run this trial: ${errorText(error)}`;
      await note(job, { exitCode: null, signal: null, wallMs: 0, error: message, logTail: [] });
      emit({ type: 'finish', study, trial, status: 'refused', wallMs: 0, error: message });
      throw new Error(message);
    }
    let dir: string;
    if (options.sharedDir) {
      if (!existsSync(join(data.studyDir, STUDY_FILES.plan))) {
        const message = `worker ${name} runs with --shared-dir but the study directory ${data.studyDir} is not visible here (no ${STUDY_FILES.plan})`;
        await note(job, { exitCode: null, signal: null, wallMs: 0, error: message, logTail: [] });
        emit({ type: 'finish', study, trial, status: 'refused', wallMs: 0, error: message });
        throw new Error(message);
      }
      dir = join(data.studyDir, trial.dir);
    } else dir = join(workDir, entry.queue, trial.id);

    let exitCode: number | null = 0;
    let exitSignal: string | null = null;
    let wallMs = 0;
    let lostLock = false;
    if (!trialDone(dir)) {
      await slots.acquire();
      try {
        if (stopping) {
          await job.moveToWait(token);
          throw new WaitingError();
        }
        const resumed = ['run.json', TRIAL_FILES.events].some((f) => existsSync(join(dir, f)));
        await job.updateProgress({ type: 'start', worker: name, attempt: job.attemptsMade + 1 });
        emit({ type: 'start', study, trial, attempt: job.attemptsMade + 1, dir, resumed });
        const proc = launchTrial(trial, dir, options.command, { MITOSIS_WORKER: name });
        running.set(trial.id, proc);
        const onAbort = (): void => {
          lostLock = !stopping;
          proc.child.kill('SIGTERM');
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        let reported: number | null = null;
        const ticker = setInterval(() => {
          const round = roundOf(dir);
          if (round !== null && round !== reported) {
            reported = round;
            void job.updateProgress({ type: 'round', worker: name, round }).catch(() => undefined);
          }
        }, options.progressMs ?? 1000);
        try {
          ({ exitCode, signal: exitSignal, wallMs } = await proc.exited);
        } finally {
          clearInterval(ticker);
          signal?.removeEventListener('abort', onAbort);
          running.delete(trial.id);
        }
      } finally {
        slots.release();
      }
    }
    if (trialDone(dir)) {
      const base = { format: 'mitosis-trial-result', version: 1, trial: trial.id, worker: name, exitCode, signal: exitSignal, wallMs, dir } as const;
      if (options.sharedDir) {
        emit({ type: 'finish', study, trial, status: 'done', wallMs });
        return { ...base, mode: 'shared' };
      }
      let packed: { files: Record<string, string>; bytes: number };
      try {
        packed = packArtifacts(dir, maxArtifactBytes);
      } catch (error) {
        const message = errorText(error);
        await note(job, { exitCode, signal: exitSignal, wallMs, error: message, logTail: [] });
        emit({ type: 'finish', study, trial, status: 'failed', wallMs, error: message });
        throw new UnrecoverableError(message);
      }
      emit({ type: 'finish', study, trial, status: 'done', wallMs });
      return { ...base, mode: 'redis', files: packed.files, bytes: packed.bytes };
    }
    if (stopping) {
      // Stopped with this worker: back to the queue now (not after the lock expires), to resume elsewhere.
      emit({ type: 'finish', study, trial, status: 'returned', wallMs });
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const logTail = lastLines(join(dir, TRIAL_FILES.log), tailLines);
    const how = exitCode === null ? `was killed by ${exitSignal ?? 'a signal'}` : `exited with code ${exitCode}`;
    const message = lostLock
      ? `worker ${name} lost the trial's lock (too slow to renew it) and stopped it; another worker continues it`
      : `the trial ${how} without ${TRIAL_FILES.summary} on worker ${name}${logTail.length > 0 ? `: ${logTail[logTail.length - 1]}` : ''}`;
    await note(job, { exitCode, signal: exitSignal, wallMs, error: message, logTail });
    emit({ type: 'finish', study, trial, status: 'failed', wallMs, error: message });
    throw new Error(message);
  };

  const serve = (entry: RegistryEntry): void => {
    const record = { worker: undefined as unknown as Worker, entry, active: 0 };
    const handle = processor(entry);
    const worker = new Worker(entry.queue, async (job: Job, token?: string, signal?: AbortSignal) => {
      record.active++;
      try {
        return await handle(job, token, signal);
      } finally {
        record.active--;
      }
    }, {
      connection: bullConnection(target, () => givenUp),
      prefix: QUEUE_PREFIX,
      concurrency: jobs,
      name,
      lockDuration: lockMs,
      stalledInterval: options.stalledIntervalMs ?? lockMs,
      maxStalledCount: options.maxStalledCount ?? 2,
      drainDelay: 2,
    });
    record.worker = worker;
    // A trial's scratch directory stays until Redis has its result (a retry after a lost completion reuses it).
    worker.on('completed', (job: Job) => {
      if (!options.sharedDir && typeof job.id === 'string' && /^[0-9a-f]{12}$/.test(job.id)) {
        rmSync(join(workDir, entry.queue, job.id), { recursive: true, force: true });
      }
    });
    worker.on('error', (error: Error) => {
      if (!stopping) warn(`queue ${entry.queue}: ${describeRedisError(error)}`);
    });
    // Another worker owns the trial now: stop ours rather than have two processes write one trial.
    worker.on('lockRenewalFailed', (ids: string[]) => {
      for (const id of ids) worker.cancelJob(id, 'lock lost');
    });
    served.set(entry.queue, record);
    emit({ type: 'serve', study: entry.study, queue: entry.queue });
  };

  const readRegistry = async (): Promise<void> => {
    if (stopping) return;
    let raw: Record<string, string>;
    try {
      raw = await watch.redis.hgetall(REGISTRY_KEY);
    } catch (error) {
      warn(`cannot read the study registry: ${describeRedisError(error)}; retrying`);
      return;
    }
    for (const [queue, text] of Object.entries(raw)) {
      if (served.has(queue)) continue;
      let entry: RegistryEntry;
      try {
        entry = JSON.parse(text) as RegistryEntry;
      } catch {
        warn(`ignoring the registry entry ${queue}: not JSON`);
        continue;
      }
      if (entry.queue !== queue || typeof entry.study !== 'string' || !/^study-[A-Za-z0-9_.-]+$/.test(queue)) {
        warn(`ignoring the registry entry ${queue}: not a study queue`);
        continue;
      }
      if (options.study !== undefined && entry.study !== options.study) continue;
      serve(entry);
    }
    for (const [queue, s] of served) {
      if (queue in raw || s.active > 0) continue;
      served.delete(queue);
      emit({ type: 'unserve', study: s.entry.study, queue });
      void s.worker.close().catch(() => undefined);
    }
  };

  await readRegistry();
  const poll = setInterval(() => void readRegistry(), options.pollMs ?? 2000);

  let stopped: Promise<void> | undefined;
  return {
    name,
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(poll);
        for (const s of served.values()) void s.worker.pause(true).catch(() => undefined);
        for (const proc of running.values()) proc.child.kill('SIGTERM');
        const grace = setTimeout(() => {
          for (const proc of running.values()) proc.child.kill('SIGKILL');
        }, 10_000);
        grace.unref();
        // With Redis down, a graceful close waits for it forever: after the grace period, stop reconnecting.
        const giveUp = setTimeout(() => {
          givenUp = true;
          for (const s of served.values()) void s.worker.close(true).catch(() => undefined);
        }, 15_000);
        giveUp.unref();
        await Promise.all([...served.values()].map((s) => s.worker.close().catch(() => undefined)));
        clearTimeout(grace);
        clearTimeout(giveUp);
        served.clear();
        watch.close();
      })();
      return stopped;
    },
  };
}
