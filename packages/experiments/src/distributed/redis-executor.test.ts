import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { mitosisRunCommand, type ExecutorEvent, type TrialCommandFactory } from '../executor.js';
import { STUDY_FILES, TRIAL_FILES } from '../plan.js';
import type { StudyResults } from '../results.js';
import { runStudy } from '../study-runner.js';
import { fakeStudy, fakeTrialScript, tempDir, writeFakeSpace } from '../testing/fixtures.js';
import { redisSkipReason, startRedis, type TestRedis } from '../testing/redis-server.js';
import { startFakeCoordinator, startFakeWorker, stopChild, type JsonChild } from '../testing/workers.js';
import { redisExecutor } from './coordinator.js';
import { QUEUE_PREFIX, REGISTRY_KEY, studyQueueName } from './protocol.js';
import { parseRedisUrl } from './redis-url.js';

// A real redis-server, workers in their own processes (the library worker on the fake `mitosis run`), the
// coordinator in this process or in its own (to be killed).

const fake = (env: Record<string, string> = {}): TrialCommandFactory => {
  const base = mitosisRunCommand(fakeTrialScript);
  return (t, dir) => ({ ...base(t, dir), env: { FAKE_TRIAL_ROUND_MS: '10', ...env } });
};
const readResults = (dir: string): StudyResults => JSON.parse(readFileSync(join(dir, STUDY_FILES.results), 'utf8')) as StudyResults;
/** Lines `<trial id> start <round>` of the shared start log, counted per trial. */
const startsOf = (file: string): Map<string, string[]> => {
  const m = new Map<string, string[]>();
  if (!existsSync(file)) return m;
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [id, , round] = line.split(' ');
    m.set(id as string, [...(m.get(id as string) ?? []), `start ${round}`]);
  }
  return m;
};

describe('Redis executor: coordinator and workers', { skip: redisSkipReason() }, () => {
  let redis: TestRedis;
  let root: string;
  let cleanup: () => void;
  let space: string;
  let baseline: StudyResults;
  const children: JsonChild[] = [];
  const study = (): ReturnType<typeof fakeStudy> => fakeStudy(space, { seeds: [0] });

  before(async () => {
    ({ dir: root, cleanup } = tempDir('redis'));
    space = writeFakeSpace(root);
    redis = await startRedis();
    await runStudy(study(), { out: join(root, 'local'), jobs: 2, command: fake() });
    baseline = readResults(join(root, 'local'));
  });
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await redis?.stop();
    cleanup?.();
  });

  it('two workers, files through Redis: every trial recorded once, results equal to the local executor', async () => {
    const startLog = join(root, 'starts-a.txt');
    const env = { FAKE_TRIAL_ROUND_MS: '30', FAKE_TRIAL_START_LOG: startLog };
    const workers = await Promise.all([1, 2].map((i) => startFakeWorker(redis.url, join(root, `work-a${i}`), [], env)));
    children.push(...workers);
    const out = join(root, 'a');
    const events: ExecutorEvent[] = [];
    const run = await runStudy(study(), {
      out,
      command: fake(),
      executor: redisExecutor({ redis: parseRedisUrl(redis.url), pollMs: 200 }),
      onEvent: (e) => events.push(e),
    });
    assert.equal(run.interrupted, false);
    assert.deepEqual(readResults(out), baseline);
    const finishes = events.filter((e) => e.type === 'finish').map((e) => (e.type === 'finish' ? e.outcome.trial.id : ''));
    assert.deepEqual([...finishes].sort(), run.plan.trials.map((t) => t.id).sort());
    assert.ok(events.every((e) => e.type !== 'finish' || e.outcome.status === 'done'));
    assert.deepEqual(events.filter((e) => e.type === 'start').length, 6);
    // Each trial ran once, somewhere; both workers took some.
    const starts = startsOf(startLog);
    for (const t of run.plan.trials) assert.deepEqual(starts.get(t.id), ['start 0'], t.id);
    for (const w of workers) assert.ok(w.lines.some((l) => l['type'] === 'finish' && l['status'] === 'done'), JSON.stringify(w.lines));
    // The artifacts came back: the run's files, the model folder, paths pointing here.
    for (const t of run.plan.trials) {
      const dir = join(out, t.dir);
      for (const f of [TRIAL_FILES.summary, TRIAL_FILES.events, TRIAL_FILES.log, TRIAL_FILES.trial, 'model/model.json']) assert.ok(existsSync(join(dir, f)), `${t.id}/${f}`);
      assert.equal((JSON.parse(readFileSync(join(dir, TRIAL_FILES.summary), 'utf8')) as { runDir: string }).runDir, dir);
    }
    assert.equal(readFileSync(join(out, STUDY_FILES.reportMd), 'utf8'), readFileSync(join(root, 'local', STUDY_FILES.reportMd), 'utf8'));
    // The finished study left the registry and its queue.
    const client = new Redis(redis.url);
    try {
      assert.deepEqual(await client.hgetall(REGISTRY_KEY), {});
      assert.deepEqual(await client.keys('mitosis:study-*'), []);
    } finally {
      client.disconnect();
    }
    // Workers stop cleanly on SIGTERM.
    for (const w of workers) assert.equal(await stopChild(w), 0, w.stderr());
  });

  it('drops a completion for a trial already recorded (a duplicate): the recorded result stays, the job leaves Redis', async () => {
    const out = join(root, 'a');
    const plan = JSON.parse(readFileSync(join(out, STUDY_FILES.plan), 'utf8')) as { trials: { id: string; dir: string }[] };
    const first = plan.trials[0] as { id: string; dir: string };
    const before = readFileSync(join(out, first.dir, TRIAL_FILES.summary), 'utf8');
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const name = studyQueueName('fake', out);
    const queue = new Queue(name, { connection, prefix: QUEUE_PREFIX });
    const late = new Worker(
      name,
      async () => ({ format: 'mitosis-trial-result', version: 1, trial: first.id, mode: 'redis', worker: 'late', exitCode: 0, signal: null, wallMs: 1, dir: '/elsewhere', files: { 'summary.json': Buffer.from('{"late":true}').toString('base64') } }),
      { connection, prefix: QUEUE_PREFIX },
    );
    try {
      await queue.add('trial', {}, { jobId: first.id });
      for (let i = 0; i < 200 && (await queue.getJobState(first.id)) !== 'completed'; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(await queue.getJobState(first.id), 'completed');
      const again = await runStudy(study(), { out, command: fake(), executor: redisExecutor({ redis: parseRedisUrl(redis.url), pollMs: 200 }) });
      assert.equal(again.outcomes.filter((o) => o.status === 'skipped').length, 6);
      assert.equal(readFileSync(join(out, first.dir, TRIAL_FILES.summary), 'utf8'), before);
      assert.deepEqual(readResults(out), baseline);
      assert.equal(await queue.getJobState(first.id), 'unknown');
    } finally {
      await late.close();
      await queue.close();
    }
  });

  it('a killed coordinator, restarted, collects what finished meanwhile and runs nothing twice', async () => {
    const startLog = join(root, 'starts-c.txt');
    const env = { FAKE_TRIAL_ROUND_MS: '60', FAKE_TRIAL_START_LOG: startLog };
    const workers = await Promise.all([1, 2].map((i) => startFakeWorker(redis.url, join(root, `work-c${i}`), [], env)));
    children.push(...workers);
    const out = join(root, 'c');
    const first = startFakeCoordinator(redis.url, out, space, { seeds: [0] });
    children.push(first);
    await first.waitFor((l) => l['type'] === 'finish', 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const recorded = readdirSync(join(out, 'trials')).filter((d) => existsSync(join(out, 'trials', d, TRIAL_FILES.summary)));
    assert.ok(recorded.length >= 1 && recorded.length < 6, `${recorded.length} recorded before the kill`);
    // The workers finish the study without a coordinator; the results wait in Redis.
    const finished = (): number => workers.reduce((n, w) => n + w.lines.filter((l) => l['type'] === 'finish' && l['status'] === 'done').length, 0);
    // Up to 60 s: on a loaded 2-core CI machine each fake trial's process start alone can take seconds.
    for (let i = 0; i < 1200 && finished() < 6; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(finished(), 6);

    const notes: string[] = [];
    const events: ExecutorEvent[] = [];
    const second = await runStudy(study(), {
      out,
      command: fake(),
      executor: redisExecutor({ redis: parseRedisUrl(redis.url), pollMs: 200, onNote: (m) => notes.push(m) }),
      onEvent: (e) => events.push(e),
    });
    assert.equal(second.outcomes.filter((o) => o.status === 'skipped').length, recorded.length);
    assert.equal(second.outcomes.filter((o) => o.status === 'done').length, 6 - recorded.length);
    assert.ok(notes.some((n) => /finished while no coordinator was running/.test(n)), notes.join('\n'));
    assert.equal(events.filter((e) => e.type === 'start').length, 0);
    assert.deepEqual(readResults(out), baseline);
    // Nothing ran twice: one start per trial, over both coordinators.
    const starts = startsOf(startLog);
    assert.equal(starts.size, 6);
    for (const [id, s] of starts) assert.deepEqual(s, ['start 0'], id);
    for (const w of workers) assert.equal(await stopChild(w), 0, w.stderr());
  });

  it('fails a trial that fails on its own after bounded attempts, with its error, and a trial no worker may run', async () => {
    const startLog = join(root, 'starts-d.txt');
    const env = { FAKE_TRIAL_ROUND_MS: '10', FAKE_TRIAL_START_LOG: startLog, FAKE_TRIAL_BAD: 'prune-l1' };
    const worker = await startFakeWorker(redis.url, join(root, 'work-d'), ['--jobs', '2', '--refuse', 'width-multiplier'], env);
    children.push(worker);
    const out = join(root, 'd');
    const run = await runStudy(study(), {
      out,
      command: fake(),
      executor: redisExecutor({ redis: parseRedisUrl(redis.url), pollMs: 200, attempts: 2, backoffMs: 50 }),
    });
    assert.deepEqual(run.results.counts, { total: 6, done: 2, failed: 4, incomplete: 0 }, JSON.stringify({ failed: run.failed.map((f) => [f.trial.method, readFileSync(join(out, f.trial.dir, TRIAL_FILES.exit), 'utf8')]), worker: worker.lines }));
    const starts = startsOf(startLog);
    for (const f of run.failed) {
      const exit = JSON.parse(readFileSync(join(out, f.trial.dir, TRIAL_FILES.exit), 'utf8')) as { status: string; exitCode: number | null; attempts: number; error: string; logTail: string[] };
      assert.equal(exit.status, 'failed');
      assert.equal(exit.attempts, 2, JSON.stringify(exit));
      if (f.trial.method === 'prune-l1') {
        assert.equal(exit.exitCode, 2);
        assert.match(exit.error, /exited with code 2 without summary\.json on worker .*invalid options for prune-l1/);
        assert.ok(exit.logTail.some((l) => /E_OPTIONS_INVALID/.test(l)));
        assert.deepEqual(starts.get(f.trial.id), ['start 0', 'start 0']);
        assert.match(readFileSync(f.log, 'utf8'), /failed after 2 attempt\(s\)/);
      } else {
        assert.equal(f.trial.method, 'width-multiplier');
        assert.match(exit.error, /cannot run this trial: method width-multiplier is not installed here/);
        assert.equal(starts.get(f.trial.id), undefined);
      }
    }
    const md = readFileSync(join(out, STUDY_FILES.reportMd), 'utf8');
    assert.match(md, /## Trials without a result/);
    assert.match(md, /not installed here/);
    assert.equal(await stopChild(worker), 0, worker.stderr());
  });
});
