import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { captureCli, type CliResult } from './testing/capture-cli.js';

// Trials run the fake `mitosis run` of @mitosis/experiments: same flags, no training, figures from the
// configuration, checkpoint per round.
const fakeRun = fileURLToPath(import.meta.resolve('@mitosis/experiments/testing/fake-trial'));
const main = fileURLToPath(new URL('./main.js', import.meta.url));

const ENV_KEYS = ['MITOSIS_RUN_SCRIPT', 'FAKE_TRIAL_ROUND_MS', 'FAKE_TRIAL_CRASH'] as const;
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv);
}

interface Results {
  counts: { total: number; done: number; failed: number; incomplete: number };
  trials: { trial: string; status: string; label: string; seed: number; testAccuracy: number | null }[];
}
const results = (dir: string): Results => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;

const flags = ['--space', 'convnet-fashion-quick', '--methods', 'energy-aware,width-multiplier', '--budget', '300kmacs,400kmacs', '--seeds', '0,1', '--rounds', '2', '--reference', 'width-multiplier', '--jobs', '2'];

describe('mitosis compare and mitosis report', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'mitosis-cli-compare-'));
  });
  afterEach(() => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('runs a study given by flags, prints its summary as JSON and writes the report', async () => {
    process.env['MITOSIS_RUN_SCRIPT'] = fakeRun;
    process.env['FAKE_TRIAL_ROUND_MS'] = '10';
    const out = join(root, 'flags');
    const r = await cli('--json', 'compare', ...flags, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { counts: Results['counts']; report: { markdown: string; html: string; plots: string[] } };
    assert.deepEqual(doc.counts, { total: 8, done: 8, failed: 0, incomplete: 0 });
    assert.ok(existsSync(doc.report.markdown) && existsSync(doc.report.html));
    assert.equal(doc.report.plots.length, 1 + 2 * 2);
    assert.equal(readdirSync(join(out, 'trials')).length, 8);
    assert.equal(r.stderr, '');

    // Deleting the report and regenerating it gives the same files.
    const md = readFileSync(doc.report.markdown, 'utf8');
    rmSync(doc.report.markdown);
    const rep = await cli('report', out);
    assert.equal(rep.code, 0, rep.stderr);
    assert.match(rep.stdout, /report of 8 trials \(8 done, 0 failed, 0 not finished\)/);
    assert.equal(readFileSync(doc.report.markdown, 'utf8'), md);
  });

  it('exits 1 when a trial fails, names its log, and still writes the report', async () => {
    process.env['MITOSIS_RUN_SCRIPT'] = fakeRun;
    process.env['FAKE_TRIAL_ROUND_MS'] = '10';
    process.env['FAKE_TRIAL_CRASH'] = 'energy-aware@1';
    const out = join(root, 'crash');
    const r = await cli('compare', ...flags, '--out', out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /FAILED energy-aware · 300k macs · seed 1 \(exit 1\); log: .*trials\/[0-9a-f]{12}\/trial\.log\n {4}.*\n/);
    assert.match(r.stderr, /simulated crash of energy-aware seed 1/);
    assert.match(r.stdout, /8 trials, 6 done, 2 failed, 0 not finished/);
    assert.ok(existsSync(join(out, 'report.html')));
    delete process.env['FAKE_TRIAL_CRASH'];
    const again = await cli('compare', ...flags, '--out', out);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(results(out).counts, { total: 8, done: 8, failed: 0, incomplete: 0 });
  });

  it('exits 2 for a bad study, an unknown method or conflicting flags, before any trial runs', async () => {
    const bad = join(root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'mitosis-study', version: 1, id: 'x', space: 'convnet-fashion-quick', methods: [{ id: 'energy-aware' }], budgets: { unit: 'flops', values: [1] }, seeds: [0] }));
    const r1 = await cli('--json', 'compare', '--study', bad, '--out', join(root, 'bad'));
    assert.equal(r1.code, 2);
    const e1 = JSON.parse(r1.stdout) as { error: { code: string; details: { problems: { pointer: string }[] } } };
    assert.equal(e1.error.code, 'E_CONFIG_INVALID');
    assert.deepEqual(e1.error.details.problems.map((p) => p.pointer), ['/budgets/unit']);

    const r2 = await cli('--json', 'compare', '--space', 'convnet-fashion-quick', '--methods', 'energy-aware,prune-l2', '--budget', '1kmacs', '--out', join(root, 'unknown'));
    assert.equal(r2.code, 2);
    const e2 = JSON.parse(r2.stdout) as { error: { code: string; message: string; details: { problems: { pointer: string }[] } } };
    assert.deepEqual(e2.error.details.problems.map((p) => p.pointer), ['/methods/1/id']);
    assert.match(e2.error.message, /unknown method "prune-l2".*prune-l1/);
    assert.equal(existsSync(join(root, 'unknown')), false);

    const r6 = await cli('--json', 'compare', '--space', 'convnet-fashion-quick', '--methods', 'energy-aware', '--budget', '1kmacs', '--devices', 'note10-cpu,nokia-3310', '--out', join(root, 'device'));
    assert.equal(r6.code, 2);
    assert.match((JSON.parse(r6.stdout) as { error: { message: string } }).error.message, /Unknown hardware profile "nokia-3310"/);

    const r3 = await cli('compare', '--study', bad, '--space', 'x', '--out', join(root, 'clash'));
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--study cannot be combined with --space/);
    const r4 = await cli('compare', '--methods', 'energy-aware', '--out', join(root, 'missing'));
    assert.equal(r4.code, 2);
    assert.match(r4.stderr, /missing: --space, --budget/);
    const r5 = await cli('report', root);
    assert.equal(r5.code, 2);
    assert.match(r5.stderr, /not a study directory/);
  });

  it('stops its trials on SIGTERM (exit 143) and a re-run records every trial exactly once', async () => {
    const out = join(root, 'killed');
    const env = { ...process.env, MITOSIS_RUN_SCRIPT: fakeRun, FAKE_TRIAL_ROUND_MS: '150', FAKE_TRIAL_CRASH: '' };
    const child = spawn(process.execPath, [main, 'compare', ...flags, '--out', out], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    // Wait until one trial finished and others are under way, then stop the study.
    const trials = join(out, 'trials');
    for (let i = 0; i < 400; i++) {
      await new Promise((r) => setTimeout(r, 25));
      if (!existsSync(trials)) continue;
      const dirs = readdirSync(trials);
      const done = dirs.filter((d) => existsSync(join(trials, d, 'summary.json'))).length;
      const started = dirs.filter((d) => existsSync(join(trials, d, 'checkpoint.json'))).length;
      if (done >= 1 && started > done) break;
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 143, stderr);
    assert.match(stderr, /SIGTERM: stopping the running trials/);
    const first = results(out);
    assert.ok(first.counts.done >= 1 && first.counts.incomplete >= 1, JSON.stringify(first.counts));
    // The trial processes are gone: nothing writes into the trial directories any more.
    const sizes = (): number[] => readdirSync(trials).map((d) => (existsSync(join(trials, d, 'events.jsonl')) ? statSync(join(trials, d, 'events.jsonl')).size : 0));
    const before = sizes();
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(sizes(), before);

    process.env['MITOSIS_RUN_SCRIPT'] = fakeRun;
    process.env['FAKE_TRIAL_ROUND_MS'] = '10';
    const again = await cli('compare', ...flags, '--out', out);
    assert.equal(again.code, 0, again.stderr);
    const final = results(out);
    assert.deepEqual(final.counts, { total: 8, done: 8, failed: 0, incomplete: 0 });
    assert.equal(new Set(final.trials.map((t) => t.trial)).size, 8);
    // The same figures as an uninterrupted study of the same trials.
    const whole = join(root, 'flags');
    assert.deepEqual(
      final.trials.map((t) => [t.trial, t.testAccuracy]),
      results(whole).trials.map((t) => [t.trial, t.testAccuracy]),
    );
  });
});
