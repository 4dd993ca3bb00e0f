import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { mitosisRunCommand, type ExecutorEvent, type TrialCommandFactory } from '../executor.js';
import { STUDY_FILES, trialDone } from '../plan.js';
import { readRoundCurve, type StudyResults } from '../results.js';
import { runStudy } from '../study-runner.js';
import { fakeStudy, fakeTrialScript, tempDir, writeFakeSpace } from '../testing/fixtures.js';
import { redisSkipReason, startRedis, type TestRedis } from '../testing/redis-server.js';
import { startFakeWorker, stopChild, type JsonChild } from '../testing/workers.js';
import { connectRedis } from './connection.js';
import { redisExecutor } from './coordinator.js';
import { parseRedisUrl } from './redis-url.js';

// Faults on a real redis-server: a worker killed mid-trial, Redis unreachable, wrong password, Redis lost.

const fake = (env: Record<string, string> = {}): TrialCommandFactory => {
  const base = mitosisRunCommand(fakeTrialScript);
  return (t, dir) => ({ ...base(t, dir), env: { FAKE_TRIAL_ROUND_MS: '10', ...env } });
};
const readResults = (dir: string): StudyResults => JSON.parse(readFileSync(join(dir, STUDY_FILES.results), 'utf8')) as StudyResults;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function closedPort(): Promise<number> {
  return new Promise((resolvePort) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolvePort(typeof a === 'object' && a !== null ? a.port : 1));
    });
  });
}

describe('Redis executor: faults', { skip: redisSkipReason() }, () => {
  let redis: TestRedis;
  let root: string;
  let cleanup: () => void;
  let space: string;
  const children: JsonChild[] = [];

  before(async () => {
    ({ dir: root, cleanup } = tempDir('redis-faults'));
    space = writeFakeSpace(root);
    redis = await startRedis();
  });
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await redis?.stop();
    cleanup?.();
  });

  it('a worker killed mid-trial: the other takes the stalled trial over and resumes it from its checkpoint (shared directory)', async () => {
    const study = fakeStudy(space, { seeds: [0], rounds: 3, methods: [{ id: 'energy-aware' }, { id: 'prune-l1' }], reference: undefined });
    await runStudy(study, { out: join(root, 'undisturbed'), jobs: 2, command: fake() });
    const env = { FAKE_TRIAL_ROUND_MS: '150', TEST_LOCK_MS: '2500' };
    const victim = await startFakeWorker(redis.url, join(root, 'work-v'), ['--shared'], env);
    children.push(victim);
    const out = join(root, 'shared');
    const events: ExecutorEvent[] = [];
    let other: JsonChild | undefined;
    let killed: string | undefined;
    const running = runStudy(study, {
      out,
      command: fake(),
      executor: redisExecutor({ redis: parseRedisUrl(redis.url), pollMs: 200 }),
      onEvent: (e) => events.push(e),
    });
    // Kill the only worker once its first trial has checkpointed round 1; a second worker then joins.
    const start = await victim.waitFor((l) => l['type'] === 'start');
    const id = start['trial'] as string;
    const checkpoint = join(out, 'trials', id, 'checkpoint.json');
    for (let i = 0; i < 200; i++) {
      if (existsSync(checkpoint) && (JSON.parse(readFileSync(checkpoint, 'utf8')) as { round: number }).round >= 1) break;
      await sleep(20);
    }
    victim.child.kill('SIGKILL');
    await victim.exited;
    killed = id;
    other = await startFakeWorker(redis.url, join(root, 'work-o'), ['--shared'], env);
    children.push(other);
    const run = await running;
    assert.equal(run.interrupted, false);
    assert.deepEqual(run.results.counts, { total: 4, done: 4, failed: 0, incomplete: 0 });
    assert.deepEqual(readResults(out), readResults(join(root, 'undisturbed')));
    // Recorded once each; the killed trial started twice, the second time after its checkpointed round.
    const finishes = events.flatMap((e) => (e.type === 'finish' ? [e.outcome.trial.id] : []));
    assert.deepEqual([...finishes].sort(), run.plan.trials.map((t) => t.id).sort());
    const starts = readFileSync(join(out, 'trials', killed, 'fake-starts.txt'), 'utf8').trim().split('\n');
    assert.equal(starts.length, 2, starts.join('\n'));
    assert.equal(starts[0], 'start 0');
    assert.match(starts[1] ?? '', /^start [2-4]$/);
    assert.ok(other.lines.some((l) => l['type'] === 'start' && l['trial'] === killed && l['resumed'] === true), JSON.stringify(other.lines));
    for (const t of run.plan.trials) assert.deepEqual(readRoundCurve(join(out, t.dir)).map((p) => p.round), [0, 1, 2, 3], t.id);
    assert.equal(await stopChild(other), 0, other.stderr());
  });

  it('Redis unreachable or refusing the password: a clear E_BACKEND_UNAVAILABLE that never shows the password', async () => {
    const port = await closedPort();
    const out = join(root, 'unreachable');
    const study = fakeStudy(space, { seeds: [0] });
    await assert.rejects(
      runStudy(study, { out, command: fake(), executor: redisExecutor({ redis: parseRedisUrl(`redis://:s3cret@127.0.0.1:${port}`) }) }),
      (e: unknown) =>
        NasError.is(e, 'E_BACKEND_UNAVAILABLE') &&
        /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: connection refused/.test(e.message) &&
        !JSON.stringify({ m: e.message, d: e.details }).includes('s3cret'),
    );
    // The study directory is not left locked.
    assert.equal(existsSync(join(out, STUDY_FILES.lock)), false);
    const locked = await startRedis({ password: 'right-one' });
    try {
      await assert.rejects(connectRedis(parseRedisUrl(`redis://:wrong-one@127.0.0.1:${locked.port}`), 'fix it'), (e: unknown) => NasError.is(e, 'E_BACKEND_UNAVAILABLE') && /authentication failed/.test(e.message) && !e.message.includes('wrong-one'));
      const ok = await connectRedis(parseRedisUrl(`redis://127.0.0.1:${locked.port}`, { MITOSIS_REDIS_PASSWORD: 'right-one' }), 'fix it');
      ok.disconnect();
    } finally {
      await locked.stop();
    }
  });

  it('Redis lost mid-study: the coordinator stops with a clear error and keeps every result it recorded', async () => {
    const doomed = await startRedis();
    const worker = await startFakeWorker(doomed.url, join(root, 'work-l'), [], { FAKE_TRIAL_ROUND_MS: '100' });
    children.push(worker);
    const out = join(root, 'lost');
    let recorded = 0;
    const started = Date.now();
    const running = runStudy(fakeStudy(space, { seeds: [0] }), {
      out,
      command: fake(),
      executor: redisExecutor({ redis: parseRedisUrl(doomed.url), pollMs: 200, redisTimeoutMs: 1000 }),
      onEvent: (e) => {
        if (e.type === 'finish' && e.outcome.status === 'done') {
          recorded++;
          if (recorded === 1) void doomed.stop(true);
        }
      },
    });
    await assert.rejects(running, (e: unknown) => NasError.is(e, 'E_BACKEND_UNAVAILABLE') && /unreachable for \d+ s/.test(e.message) && /run the same mitosis compare again/.test(e.message));
    assert.ok(Date.now() - started < 15_000);
    assert.ok(recorded >= 1);
    const plan = JSON.parse(readFileSync(join(out, STUDY_FILES.plan), 'utf8')) as { trials: { dir: string }[] };
    assert.equal(plan.trials.filter((t) => trialDone(join(out, t.dir))).length, recorded);
    assert.equal(existsSync(join(out, STUDY_FILES.lock)), false);
    worker.child.kill('SIGKILL');
  });
});
