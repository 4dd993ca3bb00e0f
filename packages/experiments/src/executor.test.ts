import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { formatDuration, formatProgress, mitosisRunCommand, runTrials, type ExecutorEvent, type TrialCommandFactory } from './executor.js';
import { expandStudy, STUDY_FILES, TRIAL_FILES } from './plan.js';
import { readRoundCurve, type StudyResults } from './results.js';
import { lockStudy, runStudy } from './study-runner.js';
import { fakeStudy, fakeTrialScript, tempDir, writeFakeSpace } from './testing/fixtures.js';

/** The default command with the fake script in place of packages/cli/dist/main.js. */
function fake(env: Record<string, string> = {}): TrialCommandFactory {
  const base = mitosisRunCommand(fakeTrialScript);
  return (t, dir) => ({ ...base(t, dir), env: { FAKE_TRIAL_ROUND_MS: '25', FAKE_TRIAL_CRASH: '', ...env } });
}

const starts = (studyDir: string, trialDir: string): string[] => {
  const file = join(studyDir, trialDir, 'fake-starts.txt');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
};

const readResults = (studyDir: string): StudyResults =>
  JSON.parse(readFileSync(join(studyDir, STUDY_FILES.results), 'utf8')) as StudyResults;

describe('local executor', () => {
  let root: string;
  let cleanup: () => void;
  let space: string;
  before(() => {
    ({ dir: root, cleanup } = tempDir('exec'));
    space = writeFakeSpace(root);
  });
  after(() => cleanup());

  it('runs every trial once, at most --jobs at a time, then skips them all on a re-run', async () => {
    const out = join(root, 'once');
    const study = fakeStudy(space);
    let maxRunning = 0;
    const events: ExecutorEvent[] = [];
    const first = await runStudy(study, {
      out,
      jobs: 2,
      command: fake(),
      onEvent: (e) => {
        events.push(e);
        maxRunning = Math.max(maxRunning, e.progress.running);
      },
    });
    assert.equal(first.plan.trials.length, 12);
    assert.deepEqual(
      first.outcomes.map((o) => o.status),
      new Array<string>(12).fill('done'),
    );
    assert.equal(maxRunning, 2);
    assert.equal(events.filter((e) => e.type === 'start').length, 12);
    const last = events.at(-1);
    assert.ok(last?.type === 'finish' && last.progress.done === 12 && last.progress.pending === 0 && last.progress.etaMs === 0);
    for (const t of first.plan.trials) {
      assert.deepEqual(starts(out, t.dir), ['start 0'], t.id);
      // The trial was given the flags of `mitosis run` and its own directory (no --resume: nothing to resume yet).
      const log = readFileSync(join(out, t.dir, TRIAL_FILES.log), 'utf8');
      assert.match(log, new RegExp(`run ${t.args.join(' ').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --json --out ${join(out, t.dir)}`));
      assert.deepEqual(JSON.parse(readFileSync(join(out, t.dir, TRIAL_FILES.trial), 'utf8')).id, t.id);
    }
    const results = readResults(out);
    assert.deepEqual(results.counts, { total: 12, done: 12, failed: 0, incomplete: 0 });
    assert.deepEqual(
      results.trials.map((r) => r.trial).sort(),
      first.plan.trials.map((t) => t.id).sort(),
    );
    assert.ok(first.report !== undefined && existsSync(first.report.html));

    const second = await runStudy(study, { out, jobs: 2, command: fake() });
    assert.deepEqual(
      second.outcomes.map((o) => o.status),
      new Array<string>(12).fill('skipped'),
    );
    for (const t of first.plan.trials) assert.deepEqual(starts(out, t.dir), ['start 0']);
    assert.deepEqual(readResults(out), results);
  });

  it('reports a crashing trial with its log, finishes the others, and retries it on the next run', async () => {
    const out = join(root, 'crash');
    const study = fakeStudy(space);
    const run = await runStudy(study, { out, jobs: 2, command: fake({ FAKE_TRIAL_CRASH: 'prune-l1@1' }) });
    assert.equal(run.failed.length, 2);
    for (const f of run.failed) {
      assert.equal(f.trial.method, 'prune-l1');
      assert.equal(f.trial.seed, 1);
      assert.equal(f.exitCode, 1);
      assert.equal(f.log, join(out, f.trial.dir, 'trial.log'));
      assert.ok(f.logTail.some((l) => l.includes('simulated crash of prune-l1 seed 1')), f.logTail.join('\n'));
      assert.equal(JSON.parse(readFileSync(join(out, f.trial.dir, TRIAL_FILES.exit), 'utf8')).status, 'failed');
    }
    assert.equal(run.outcomes.filter((o) => o.status === 'done').length, 10);
    assert.deepEqual(run.results.counts, { total: 12, done: 10, failed: 2, incomplete: 0 });
    const md = readFileSync(join(out, STUDY_FILES.reportMd), 'utf8');
    assert.match(md, /## Trials without a result/);
    assert.match(md, /failed \(exit 1\)/);

    const retry = await runStudy(study, { out, jobs: 2, command: fake() });
    assert.deepEqual(
      retry.outcomes.filter((o) => o.status !== 'skipped').map((o) => [o.trial.method, o.trial.seed, o.status]),
      [
        ['prune-l1', 1, 'done'],
        ['prune-l1', 1, 'done'],
      ],
    );
    // The retry resumed after the checkpointed seed round instead of starting over.
    for (const f of run.failed) assert.deepEqual(starts(out, f.trial.dir), ['start 0', 'start 1']);
    assert.deepEqual(retry.results.counts, { total: 12, done: 12, failed: 0, incomplete: 0 });
    assert.equal(existsSync(join(out, run.failed[0]?.trial.dir ?? '', TRIAL_FILES.exit)), false);
  });

  it('killed mid-study and re-run, records every trial once with the results of an uninterrupted study', async () => {
    const study = fakeStudy(space, { rounds: 3 });
    const slow = { FAKE_TRIAL_ROUND_MS: '120' };
    const whole = join(root, 'whole');
    await runStudy(study, { out: whole, jobs: 3, command: fake(slow) });

    const killed = join(root, 'killed');
    const controller = new AbortController();
    // Abort once two trials are done and another is mid-run: past its checkpointed round 1, not finished.
    let done = 0;
    let trialDirs: string[] = [];
    let caught: string | undefined;
    const poll = setInterval(() => {
      if (done < 2 || caught !== undefined) return;
      for (const d of trialDirs) {
        const checkpoint = join(killed, d, 'checkpoint.json');
        if (!existsSync(checkpoint) || existsSync(join(killed, d, TRIAL_FILES.summary))) continue;
        let round = -1;
        try {
          round = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { round: number }).round;
        } catch {
          continue;
        }
        if (round === 1) {
          caught = d;
          controller.abort();
          return;
        }
      }
    }, 10);
    let first;
    try {
      first = await runStudy(study, {
        out: killed,
        jobs: 3,
        command: fake(slow),
        signal: controller.signal,
        killGraceMs: 2000,
        onPlan: (plan) => (trialDirs = plan.trials.map((t) => t.dir)),
        onEvent: (e) => {
          if (e.type === 'finish' && e.outcome.status === 'done') done++;
        },
      });
    } finally {
      clearInterval(poll);
    }
    assert.ok(caught !== undefined);
    assert.equal(first.interrupted, true);
    assert.equal(first.report, undefined);
    const interrupted = first.outcomes.filter((o) => o.status === 'interrupted');
    assert.ok(interrupted.some((o) => o.trial.dir === caught), JSON.stringify(first.outcomes.map((o) => o.status)));
    const finished = first.outcomes.filter((o) => o.status === 'done').length;
    assert.deepEqual(first.results.counts, { total: 12, done: finished, failed: 0, incomplete: 12 - finished });
    assert.ok(finished < 12);

    const second = await runStudy(study, { out: killed, jobs: 3, command: fake(slow) });
    assert.equal(second.interrupted, false);
    assert.equal(second.outcomes.filter((o) => o.status === 'skipped').length, finished);
    const a = readResults(whole);
    const b = readResults(killed);
    assert.deepEqual(b, a);
    assert.equal(new Set(b.trials.map((r) => r.trial)).size, 12);
    // The trial caught mid-run resumed after its checkpointed round; every curve has each round once.
    const caughtStarts = starts(killed, caught);
    assert.equal(caughtStarts.length, 2);
    assert.equal(caughtStarts[0], 'start 0');
    assert.match(caughtStarts[1] ?? '', /^start [23]$/);
    for (const t of second.plan.trials) {
      assert.deepEqual(
        readRoundCurve(join(killed, t.dir)).map((p) => p.round),
        [0, 1, 2, 3],
        t.id,
      );
    }
  });

  it('counts a trial stopped by SIGINT (Ctrl-C reaches every process) as interrupted, not failed', async () => {
    const out = join(root, 'sigint');
    const study = fakeStudy(space, { seeds: [0] });
    const run = await runStudy(study, { out, jobs: 2, command: fake({ FAKE_TRIAL_SIGINT: 'width-multiplier' }) });
    assert.deepEqual(
      run.outcomes.map((o) => [o.trial.label, o.status, o.signal]),
      [
        ['energy-aware', 'done', null],
        ['prune-l1', 'done', null],
        ['width', 'interrupted', 'SIGINT'],
        ['energy-aware', 'done', null],
        ['prune-l1', 'done', null],
        ['width', 'interrupted', 'SIGINT'],
      ],
    );
    assert.equal(run.failed.length, 0);
    assert.deepEqual(run.results.counts, { total: 6, done: 4, failed: 0, incomplete: 2 });
    const again = await runStudy(study, { out, jobs: 2, command: fake() });
    assert.deepEqual(again.results.counts, { total: 6, done: 6, failed: 0, incomplete: 0 });
  });

  it('reports a trial whose command cannot start', async () => {
    const out = join(root, 'nostart');
    const plan = expandStudy(fakeStudy(space, { methods: [{ id: 'energy-aware' }], reference: undefined, seeds: [0], budgets: { unit: 'macs', values: [1] } }));
    const { outcomes } = await runTrials(plan.trials, {
      studyDir: out,
      jobs: 1,
      command: () => ({ command: join(root, 'no-such-binary'), args: [] }),
    });
    assert.equal(outcomes[0]?.status, 'failed');
    assert.match(outcomes[0]?.logTail.join('\n') ?? '', /could not start the trial: .*ENOENT/);
  });

  it('refuses a study directory another live compare holds, and takes over a stale lock', () => {
    const out = join(root, 'locked');
    const release = lockStudy(out);
    try {
      // The lock is ours: a second taker in this process is the same pid, so fake another live one.
      writeFileSync(join(out, STUDY_FILES.lock), `${process.ppid}\n`);
      assert.throws(() => lockStudy(out), (e: unknown) => NasError.is(e, 'E_USAGE') && e.details['pid'] === process.ppid);
      const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
      writeFileSync(join(out, STUDY_FILES.lock), `${gone}\n`);
      const again = lockStudy(out);
      assert.equal(readFileSync(join(out, STUDY_FILES.lock), 'utf8').trim(), String(process.pid));
      again();
    } finally {
      release();
    }
    assert.equal(existsSync(join(out, STUDY_FILES.lock)), false);
  });

  it('formats progress with done, running, failed and an ETA', () => {
    assert.equal(formatDuration(59_400), '59s');
    assert.equal(formatDuration(185_000), '3m05s');
    assert.equal(formatDuration(3_725_000), '1h02m');
    assert.equal(
      formatProgress({ total: 48, skipped: 4, done: 8, failed: 1, running: 2, pending: 33, etaMs: 845_000, elapsedMs: 1 }),
      '12/48 done (4 skipped), 2 running, 1 failed, ETA 14m05s',
    );
    assert.equal(
      formatProgress({ total: 2, skipped: 0, done: 0, failed: 0, running: 2, pending: 0, etaMs: null, elapsedMs: 1 }),
      '0/2 done, 2 running, 0 failed, ETA unknown',
    );
  });
});
