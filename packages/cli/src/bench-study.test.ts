import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import type { StudyBenchmark } from '@mitosis/experiments';
import { captureCli, type CliResult } from './testing/capture-cli.js';

// Trials run the fake `mitosis run` of @mitosis/experiments: it sleeps FAKE_TRIAL_ROUND_MS per round instead of
// training, so trials overlap perfectly and two jobs nearly halve the wall time.
const fakeRun = fileURLToPath(import.meta.resolve('@mitosis/experiments/testing/fake-trial'));

const ENV_KEYS = ['MITOSIS_RUN_SCRIPT', 'FAKE_TRIAL_ROUND_MS', 'FAKE_TRIAL_CRASH', 'TMPDIR'] as const;
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv);
}

describe('mitosis bench study', () => {
  let root: string;
  let study: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'mitosis-cli-bench-study-'));
    study = join(root, 'study.json');
    // 2 methods × 2 budgets × 2 seeds = 8 trials; the benchmark runs the first 4 (seed 0).
    writeFileSync(
      study,
      JSON.stringify({
        format: 'mitosis-study',
        version: 1,
        id: 'bench',
        space: 'convnet-fashion-quick',
        methods: [{ id: 'energy-aware' }, { id: 'width-multiplier' }],
        budgets: { unit: 'macs', values: [300000, 400000] },
        seeds: [0, 1],
        rounds: 2,
      }),
    );
  });
  afterEach(() => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Fake trials, and an empty TMPDIR of this test for the benchmark's temporary study directories. */
  const fakeEnv = (name: string, roundMs: number): string => {
    const scratch = join(root, name);
    mkdirSync(scratch);
    process.env['MITOSIS_RUN_SCRIPT'] = fakeRun;
    process.env['FAKE_TRIAL_ROUND_MS'] = String(roundMs);
    process.env['FAKE_TRIAL_CRASH'] = '';
    process.env['TMPDIR'] = scratch;
    return scratch;
  };

  it('measures trials/hour per --jobs value on the same first trials, with the speed-up, as one JSON document', async () => {
    const dir = fakeEnv('json', 200);
    const r = await cli('--json', 'bench', 'study', '--study', study, '--jobs', '1,2', '--limit-trials', '4');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const doc = JSON.parse(r.stdout) as StudyBenchmark;
    assert.equal(doc.format, 'mitosis-study-bench');
    assert.equal(doc.study, 'bench');
    assert.equal(doc.trials, 4);
    assert.equal(doc.studyTrials, 8);
    assert.deepEqual(doc.runs.map((run) => [run.jobs, run.trials, run.failed, run.dir]), [
      [1, 4, 0, null],
      [2, 4, 0, null],
    ]);
    const [one, two] = doc.runs as [StudyBenchmark['runs'][0], StudyBenchmark['runs'][0]];
    assert.equal(one.speedup, 1);
    for (const run of doc.runs) assert.ok(Math.abs(run.trialsPerHour - (run.trials * 3_600_000) / run.wallMs) / run.trialsPerHour < 0.01);
    assert.ok(Math.abs(two.speedup - two.trialsPerHour / one.trialsPerHour) < 1e-9);
    // 4 trials of 3 rounds × 200 ms plus a node start each: ≈ 2.8 s one at a time, ≈ 1.4 s two at a time (less
    // on a loaded machine, where the starts contend for the cores).
    assert.ok(two.speedup > 1.25, `speed-up ${two.speedup}`);
    assert.deepEqual(readdirSync(dir), [], 'the temporary study directories were left behind');
  });

  it('prints a table, keeps the directory of a measurement whose trials failed and exits 1', async () => {
    const dir = fakeEnv('crash', 10);
    process.env['FAKE_TRIAL_CRASH'] = 'width-multiplier';
    const r = await cli('bench', 'study', '--study', study, '--jobs', '2', '--limit-trials', '2');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /study bench \(convnet-fashion-quick\): 2 of 8 trials per measurement, \d+ cores\n/);
    assert.match(r.stdout, /jobs +wall +trials\/h +per trial +speed-up +load\n +2 +\d+s +[\d.]+ +\d+s +1\.00× +[\d.]+\n/);
    assert.match(r.stdout, /jobs 2: 1 trial\(s\) failed, so this is not the study's throughput; logs in .*mitosis-bench-study-j2-/);
    assert.match(r.stderr, /FAILED width-multiplier · 300k macs · seed 0 \(exit 1\); log: /);
    assert.match(r.stderr, /jobs 2: 2 trials in /);
    const kept = readdirSync(dir);
    assert.equal(kept.length, 1);
    assert.ok(existsSync(join(dir, kept[0] as string, 'trials')));
  });

  it('exits 2 for a bad --jobs list, a bad --limit-trials or an unknown method, before any trial runs', async () => {
    const dir = fakeEnv('usage', 10);
    const bad = await cli('bench', 'study', '--study', study, '--jobs', '1,0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--jobs must be an integer ≥ 1, got "0"/);
    const limit = await cli('bench', 'study', '--study', study, '--limit-trials', 'all');
    assert.equal(limit.code, 2);
    assert.match(limit.stderr, /--limit-trials must be an integer ≥ 1/);
    const unknown = join(root, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ format: 'mitosis-study', version: 1, id: 'u', space: 'convnet-fashion-quick', methods: [{ id: 'prune-l2' }], budgets: { unit: 'macs', values: [1] }, seeds: [0] }));
    const method = await cli('bench', 'study', '--study', unknown);
    assert.equal(method.code, 2);
    assert.match(method.stderr, /unknown method "prune-l2" at \/methods\/0\/id/);
    assert.deepEqual(readdirSync(dir), [], 'a measurement started');
  });
});
