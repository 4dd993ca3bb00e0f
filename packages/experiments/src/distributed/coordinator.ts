import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { NasError } from '@mitosis/core';
import { sha256Hex } from '../canonical.js';
import { lastLines, type ExecutorOptions, type ExecutorProgress, type TrialExecutor, type TrialOutcome, type TrialStatus } from '../executor.js';
import { TRIAL_FILES, trialDone, writeFileAtomic, type PlannedTrial } from '../plan.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, unpackArtifacts } from './artifacts.js';
import { bullConnection, connectRedis, redisUnavailable, RedisWatch } from './connection.js';
import {
  parseAttemptNote,
  QUEUE_PREFIX,
  REGISTRY_KEY,
  studyQueueName,
  TRIAL_JOB,
  type AttemptNote,
  type RegistryEntry,
  type TrialJobData,
  type TrialJobResult,
} from './protocol.js';
import { redactRedisUrls, type RedisTarget } from './redis-url.js';

/** Options of {@link redisExecutor}. */
export interface RedisExecutorOptions {
  readonly redis: RedisTarget;
  /** Tries of a trial that fails for its own reasons (exit without a summary) before it is failed (default 2). */
  readonly attempts?: number;
  /** Wait before such a retry (default 5000 ms). */
  readonly backoffMs?: number;
  /** How often every waiting trial's job is looked at, besides Redis's events (default 2000 ms). */
  readonly pollMs?: number;
  /** How long Redis may be unreachable before the study stops with an error (default 60 000 ms). */
  readonly redisTimeoutMs?: number;
  /** Bound on the files of one trial accepted from a worker (default 4 × the workers' default bound). */
  readonly maxArtifactBytes?: number;
  /** Lines about what the coordinator found or did (collected results, re-queued jobs). */
  readonly onNote?: (message: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Settles within `ms` whatever `p` does (closing connections to a server that is gone must not hang). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => {
    timer = setTimeout(r, ms);
  });
  await Promise.race([p.catch(() => undefined), late]);
  clearTimeout(timer);
}

/**
 * The Redis executor (`mitosis compare --executor redis://…`): queues the study's missing trials on a BullMQ
 * queue named after the study (job id = trial id, so a trial is queued once however often the study is
 * started), registers the queue for `mitosis worker` processes, and waits, reporting the same events as the
 * local executor. Results are recorded exactly once: keyed by trial id, written into the study directory
 * (`summary.json` last, atomically), a completion that finds the trial already recorded is dropped, and the job
 * is removed only after its result is on disk. A trial that fails on its own is tried `attempts` times; the
 * failure, its error and log tail go to `exit.json` and `trial.log`. Restarted, it skips trials on disk,
 * collects jobs that completed while it was away, leaves queued and running ones alone, and queues failed or
 * lost ones afresh. Aborting stops waiting (the workers go on; run again to collect). Redis unreachable at
 * start, or for `redisTimeoutMs` later, is `E_BACKEND_UNAVAILABLE`; results already recorded stay.
 */
export function redisExecutor(options: RedisExecutorOptions): TrialExecutor {
  return (trials, exec) => runOnRedis(trials, exec, options);
}

async function runOnRedis(
  trials: readonly PlannedTrial[],
  exec: ExecutorOptions,
  options: RedisExecutorOptions,
): Promise<{ outcomes: TrialOutcome[]; interrupted: boolean }> {
  const target = options.redis;
  const studyDir = exec.studyDir;
  const study = exec.study ?? basename(studyDir);
  const queueName = studyQueueName(study, studyDir);
  const attempts = Math.max(1, Math.floor(options.attempts ?? 2));
  const pollMs = options.pollMs ?? 2000;
  const timeoutMs = options.redisTimeoutMs ?? 60_000;
  const maxBytes = options.maxArtifactBytes ?? 4 * DEFAULT_MAX_ARTIFACT_BYTES;
  const tailLines = exec.tailLines ?? 15;
  const note = (m: string): void => options.onNote?.(redactRedisUrls(m));
  const started = Date.now();
  const dirOf = (t: PlannedTrial): string => join(studyDir, t.dir);
  const logOf = (t: PlannedTrial): string => join(dirOf(t), TRIAL_FILES.log);
  const remedy = `start it (or fix the URL), then run the same mitosis compare again: finished results are in ${studyDir}`;

  const pre = await connectRedis(target, remedy);
  pre.disconnect();
  const watch = new RedisWatch(target);
  await watch.ready();
  let lost: NasError | undefined;
  const givenUp = (): boolean => lost !== undefined;
  const queue = new Queue(queueName, { connection: bullConnection(target, givenUp), prefix: QUEUE_PREFIX });
  const events = new QueueEvents(queueName, { connection: bullConnection(target, givenUp), prefix: QUEUE_PREFIX });
  // Connection trouble is judged by the watchdog below; these only keep Node from throwing on 'error'.
  queue.on('error', () => undefined);
  events.on('error', () => undefined);

  const outcomes: TrialOutcome[] = [];
  const pending = new Map<string, PlannedTrial>();
  const running = new Map<string, number>();
  /** Trial processes launched per trial, from the workers' `start` progress events. */
  const launches = new Map<string, number>();
  const durations: number[] = [];
  let done = 0;
  let failed = 0;
  let peak = 1;
  let skipped = 0;
  let aborted = exec.signal?.aborted === true;

  const progress = (): ExecutorProgress => {
    const now = Date.now();
    let etaMs: number | null = null;
    if (durations.length > 0) {
      const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
      let work = (pending.size - running.size) * mean;
      for (const since of running.values()) work += Math.max(mean - (now - since), 0);
      const lanes = Math.min(peak, pending.size);
      etaMs = lanes === 0 ? 0 : work / lanes;
    }
    return { total: trials.length, skipped, done, failed, running: running.size, pending: pending.size - running.size, etaMs, elapsedMs: now - started };
  };

  const markRunning = (t: PlannedTrial): void => {
    if (running.has(t.id)) return;
    running.set(t.id, Date.now());
    peak = Math.max(peak, running.size);
    exec.onEvent?.({ type: 'start', trial: t, progress: progress() });
  };

  const finish = (t: PlannedTrial, status: TrialStatus, r: { exitCode: number | null; signal: string | null; wallMs: number; logTail?: readonly string[] }): void => {
    if (!pending.delete(t.id)) return;
    running.delete(t.id);
    if (status === 'done') done++;
    if (status === 'failed') failed++;
    durations.push(r.wallMs);
    const outcome: TrialOutcome = {
      trial: t,
      status,
      exitCode: r.exitCode,
      signal: r.signal,
      wallMs: r.wallMs,
      log: logOf(t),
      logTail: status === 'done' ? [] : [...(r.logTail ?? lastLines(logOf(t), tailLines))],
    };
    outcomes.push(outcome);
    exec.onEvent?.({ type: 'finish', outcome, progress: progress() });
  };

  const recordFailure = (t: PlannedTrial, n: Omit<AttemptNote, 'type' | 'attempt'> & { attempts: number }): void => {
    const dir = dirOf(t);
    mkdirSync(dir, { recursive: true });
    // The worker's log is on the worker (unless the study directory is shared): keep its tail here.
    const header = `# ${new Date().toISOString()} failed after ${n.attempts} attempt(s), last on ${n.worker}: ${n.error}\n`;
    appendFileSync(logOf(t), header + n.logTail.map((l) => `#   ${l}\n`).join(''));
    writeFileAtomic(
      join(dir, TRIAL_FILES.exit),
      `${JSON.stringify({ status: 'failed', exitCode: n.exitCode, signal: n.signal, wallMs: n.wallMs, error: n.error, worker: n.worker, attempts: n.attempts, logTail: n.logTail }, null, 2)}\n`,
    );
    finish(t, 'failed', { exitCode: n.exitCode, signal: n.signal, wallMs: n.wallMs, logTail: n.logTail.length > 0 ? n.logTail : [n.error] });
  };

  const spaceTexts = new Map<string, TrialJobData['space']>();
  const jobData = (t: PlannedTrial): TrialJobData => {
    const at = t.args.indexOf('--space');
    const file = at >= 0 ? (t.args[at + 1] as string) : '';
    let space = spaceTexts.get(file);
    if (space === undefined) {
      const text = readFileSync(file, 'utf8');
      space = { file, sha256: sha256Hex(text), text };
      spaceTexts.set(file, space);
    }
    return { format: 'mitosis-trial-job', version: 1, study, studyDir, trial: t, space };
  };
  const enqueue = (t: PlannedTrial): Promise<unknown> =>
    queue.add(TRIAL_JOB, jobData(t), {
      jobId: t.id,
      attempts,
      backoff: { type: 'fixed', delay: options.backoffMs ?? 5000 },
      removeOnComplete: false,
      removeOnFail: false,
    });

  /** Records a completed job's result once; a trial already recorded keeps what it has. */
  const collect = async (t: PlannedTrial, job: Job): Promise<void> => {
    const dir = dirOf(t);
    const r = job.returnvalue as Partial<TrialJobResult> | null | undefined;
    const exitCode = typeof r?.exitCode === 'number' ? r.exitCode : null;
    const signal = typeof r?.signal === 'string' ? r.signal : null;
    const wallMs = typeof r?.wallMs === 'number' ? r.wallMs : 0;
    const worker = typeof r?.worker === 'string' ? r.worker : '?';
    if (!trialDone(dir)) {
      try {
        if (r?.format !== 'mitosis-trial-result' || r.trial !== t.id) throw new Error('the job returned something that is not this trial\'s result');
        if (r.mode === 'redis') {
          unpackArtifacts(r.files, dir, typeof r.dir === 'string' ? r.dir : '', maxBytes);
        } else if (!trialDone(dir)) {
          throw new Error(
            `worker ${worker} ran it with --shared-dir, but no ${TRIAL_FILES.summary} is visible in ${dir}: is the study directory really shared, at the same path?`,
          );
        }
      } catch (error) {
        recordFailure(t, { worker, exitCode, signal, wallMs, error: redactRedisUrls(error instanceof Error ? error.message : String(error)), logTail: [], attempts: job.attemptsMade });
        await queue.remove(t.id).catch(() => undefined);
        return;
      }
    }
    rmSync(join(dir, TRIAL_FILES.exit), { force: true });
    finish(t, 'done', { exitCode, signal, wallMs });
    await queue.remove(t.id).catch(() => undefined);
  };

  const collectFailure = async (t: PlannedTrial, job: Job): Promise<void> => {
    const { logs } = await queue.getJobLogs(t.id).catch(() => ({ logs: [] as string[] }));
    const notes = logs.map(parseAttemptNote).filter((n): n is AttemptNote => n !== undefined);
    const last = notes.at(-1);
    const reason = job.failedReason ?? 'failed';
    // A trial taken back from dead workers too often fails with BullMQ's own reason and no note.
    const error = last === undefined || !reason.includes(last.error.slice(0, 40)) ? redactRedisUrls(reason) : last.error;
    recordFailure(t, {
      worker: last?.worker ?? '?',
      exitCode: last?.exitCode ?? null,
      signal: last?.signal ?? null,
      wallMs: last?.wallMs ?? 0,
      error,
      logTail: last?.logTail ?? [],
      attempts: job.attemptsMade,
    });
    await queue.remove(t.id).catch(() => undefined);
  };

  const settle = async (id: string): Promise<void> => {
    const t = pending.get(id);
    if (t === undefined) return;
    // Launches seen before the reads below: a state read before a worker took the job must not undo its start.
    const seenLaunches = launches.get(id) ?? 0;
    // The state first, then the job: a completed or failed job no longer changes, whereas a job read first may be
    // a snapshot from before it finished (no return value yet, one attempt fewer).
    const state = await queue.getJobState(id);
    const job = state === 'unknown' ? undefined : ((await queue.getJob(id)) as Job | undefined);
    if (!pending.has(id)) return;
    if (job === undefined) {
      // The job is gone (Redis restarted without its data, or removed by hand): its result may be on disk
      // (shared directory), else it is queued again.
      if (trialDone(dirOf(t))) {
        finish(t, 'done', { exitCode: null, signal: null, wallMs: 0 });
        return;
      }
      running.delete(id);
      await enqueue(t);
      note(`trial ${id} was no longer in Redis; queued it again`);
      return;
    }
    if (state === 'completed') await collect(t, job);
    else if (state === 'failed') await collectFailure(t, job);
    else if (state === 'active') markRunning(t);
    else if ((launches.get(id) ?? 0) === seenLaunches) running.delete(id);
  };

  // One settle at a time per trial; a request during one runs it once more afterwards.
  const busy = new Map<string, boolean>();
  let failure: unknown;
  const schedule = (id: string): void => {
    if (!pending.has(id)) return;
    if (busy.has(id)) {
      busy.set(id, true);
      return;
    }
    busy.set(id, false);
    void (async () => {
      try {
        do {
          busy.set(id, false);
          await settle(id);
        } while (busy.get(id) === true && pending.has(id));
      } catch (error) {
        if (lost === undefined) failure ??= error;
      } finally {
        busy.delete(id);
      }
    })();
  };

  const onAbort = (): void => {
    aborted = true;
  };
  exec.signal?.addEventListener('abort', onAbort, { once: true });
  let watchdog: NodeJS.Timeout | undefined;
  try {
    await events.waitUntilReady();
    for (const name of ['completed', 'failed', 'active', 'waiting', 'stalled', 'delayed', 'removed'] as const) {
      events.on(name, (args: { jobId: string }) => schedule(args.jobId));
    }
    events.on('progress', ({ jobId, data }: { jobId: string; data: unknown }) => {
      if (typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'start') launches.set(jobId, (launches.get(jobId) ?? 0) + 1);
      const t = pending.get(jobId);
      if (t !== undefined && typeof data === 'object' && data !== null) markRunning(t);
    });
    const entry: RegistryEntry = { study, queue: queueName, studyDir, coordinator: `${hostname()}:${process.pid}`, since: new Date().toISOString() };
    await watch.redis.hset(REGISTRY_KEY, queueName, JSON.stringify(entry));

    let collected = 0;
    let queued = 0;
    for (const t of trials) {
      const state = await queue.getJobState(t.id);
      if (trialDone(dirOf(t))) {
        skipped++;
        outcomes.push({ trial: t, status: 'skipped', exitCode: null, signal: null, wallMs: 0, log: logOf(t), logTail: [] });
        if (state === 'completed' || state === 'failed') await queue.remove(t.id).catch(() => undefined);
        continue;
      }
      pending.set(t.id, t);
      if (state === 'failed') await queue.remove(t.id);
      if (state === 'failed' || state === 'unknown') {
        await enqueue(t);
        queued++;
      } else if (state === 'completed') collected++;
    }
    if (collected > 0) note(`${collected} trial(s) finished while no coordinator was running; collecting their results`);
    if (queued < pending.size - collected) note(`${pending.size - collected - queued} trial(s) were already queued or running; not queued again`);

    await new Promise<void>((resolveWait, rejectWait) => {
      const tick = (): void => {
        if (failure !== undefined) {
          rejectWait(
            NasError.is(failure)
              ? failure
              : new NasError('E_RUN_FAILED', `The coordinator of ${study} failed: ${redactRedisUrls(failure instanceof Error ? failure.message : String(failure))}`, { queue: queueName }),
          );
          return;
        }
        const down = watch.downForMs();
        if (down > timeoutMs) {
          lost = redisUnavailable(target, `unreachable for ${Math.round(down / 1000)} s (${watch.lastError || 'connection lost'})`, remedy, {
            recorded: done,
            pending: pending.size,
          });
          rejectWait(lost);
          return;
        }
        if (aborted || pending.size === 0) resolveWait();
      };
      for (const id of pending.keys()) schedule(id);
      let lastSweep = Date.now();
      watchdog = setInterval(() => {
        if (Date.now() - lastSweep >= pollMs && watch.downForMs() === 0) {
          lastSweep = Date.now();
          for (const id of pending.keys()) schedule(id);
        }
        tick();
      }, Math.min(250, pollMs));
      tick();
    });
    // Wait for settles in flight (a result being written) before returning.
    for (let i = 0; i < 200 && busy.size > 0 && lost === undefined; i++) await sleep(25);
    if (pending.size === 0) {
      // Every trial is recorded: the study leaves Redis (workers stop serving it).
      await watch.redis.hdel(REGISTRY_KEY, queueName).catch(() => undefined);
      await queue.obliterate().catch(() => undefined);
    }
  } finally {
    if (watchdog !== undefined) clearInterval(watchdog);
    exec.signal?.removeEventListener('abort', onAbort);
    if (lost !== undefined) {
      // close() ends BullMQ's own retry loops; the connections no longer reconnect (givenUp).
      await within(Promise.all([events.close(), queue.close()]), 1000);
    } else {
      await within(Promise.all([events.close(), queue.close()]), 5000);
    }
    watch.close();
  }
  for (const t of pending.values()) {
    outcomes.push({ trial: t, status: 'interrupted', exitCode: null, signal: null, wallMs: 0, log: logOf(t), logTail: [] });
  }
  const order = new Map(trials.map((t, i) => [t.id, i]));
  outcomes.sort((a, b) => (order.get(a.trial.id) ?? 0) - (order.get(b.trial.id) ?? 0));
  return { outcomes, interrupted: aborted && pending.size > 0 };
}
