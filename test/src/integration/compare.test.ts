import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readRunEvents } from '@mitosis/growth';
import { repoRoot, tempDir } from './growth-helpers.js';

// `mitosis compare` end to end: the real CLI runs the shipped quick study on real Fashion-MNIST, trials are real
// `mitosis run` processes (about 10 s per study on one core).
const main = join(repoRoot, 'packages/cli/dist/main.js');
const quickStudy = join(repoRoot, 'search-spaces/studies/fashion-quick.json');
const debianLabels = '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz';
const noData =
  !existsSync(debianLabels) && (process.env['MITOSIS_DATA'] ?? '') === ''
    ? `Fashion-MNIST is not installed (${debianLabels}) and MITOSIS_DATA is unset: apt-get install dataset-fashion-mnist`
    : undefined;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Process groups of CLI processes still running, killed when the suite ends (a failed assertion leaves some). */
const running = new Set<number>();

/**
 * Starts the CLI in its own process group, so that the trials it spawns, which inherit the group, can be killed
 * with it. `exited` resolves when the CLI process has exited; `exit` holds the same once it has.
 */
function startCli(args: string[]): { pid: number; exited: Promise<Exit>; exit: () => Exit | undefined } {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  assert.ok(child.pid !== undefined, 'the CLI did not start');
  const pid = child.pid;
  running.add(pid);
  let stderr = '';
  let exit: Exit | undefined;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Exit>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(pid);
      exit = { code, signal, stderr };
      resolveExit(exit);
    });
  });
  return { pid, exited, exit: () => exit };
}

/** Live (not zombie) processes of a process group, from /proc (Linux); [] where /proc is absent. */
function groupMembers(pgid: number): number[] {
  if (!existsSync('/proc/self/stat')) return [];
  const live: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') live.push(Number(entry));
    } catch {
      // the process ended while we read
    }
  }
  return live;
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ResultRow {
  trial: string;
  dir: string;
  status: string;
  testAccuracy: number | null;
  widths: Record<string, number> | null;
  wallMs?: number;
  [key: string]: unknown;
}
interface Results {
  counts: { total: number; done: number; failed: number; incomplete: number };
  trials: ResultRow[];
}
const readResults = (dir: string): Results => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;

/** A result row without its timing. */
const untimed = ({ wallMs: _w, ...rest }: ResultRow): Omit<ResultRow, 'wallMs'> => rest;

/** A trial's events (as the run's readers see an append-only log) without their timings (`timeMs`, `imagesPerSecond`). */
function untimedEvents(trialDir: string): unknown[] {
  return readRunEvents(join(trialDir, 'events.jsonl')).map((e) => {
    const { timeMs: _t, imagesPerSecond: _i, ...rest } = e;
    return rest;
  });
}

/** Whether a trial directory holds a finished round's checkpoint (`checkpoints/round-NNN`, renamed into place). */
const hasCheckpoint = (trialDir: string): boolean =>
  existsSync(join(trialDir, 'checkpoints')) && readdirSync(join(trialDir, 'checkpoints')).some((d) => /^round-\d+$/.test(d));

describe('mitosis compare (integration, real Fashion-MNIST)', () => {
  const { dir, cleanup } = tempDir('compare');
  after(() => {
    for (const pgid of running) killGroup(pgid);
    cleanup();
  });

  it('SIGKILL of the study and its trials mid-study, then a re-run, gives every trial once and the results of an uninterrupted study', async (t) => {
    if (noData !== undefined) {
      t.skip(noData);
      return;
    }
    const args = (out: string): string[] => ['compare', '--study', quickStudy, '--out', out, '--jobs', '1'];

    const whole = join(dir, 'whole');
    const uninterrupted = startCli(args(whole));
    const a = await uninterrupted.exited;
    assert.equal(a.code, 0, a.stderr);

    // The same study, killed once the first trial has checkpointed a round. The executor spawns trials in the
    // CLI's process group and a SIGKILL of the CLI alone would leave the running trial orphaned, writing on:
    // kill the whole group, as a crash of the machine or an OOM kill of the session would.
    const killed = join(dir, 'killed');
    const interrupted = startCli(args(killed));
    let first: string | undefined;
    const deadline = Date.now() + 120_000;
    for (;;) {
      assert.equal(interrupted.exit(), undefined, 'the study ended before it could be killed');
      assert.ok(Date.now() < deadline, 'no trial checkpointed a round within 120 s');
      if (first === undefined && existsSync(join(killed, 'plan.json'))) {
        const plan = JSON.parse(readFileSync(join(killed, 'plan.json'), 'utf8')) as { trials: { dir: string }[] };
        first = join(killed, (plan.trials[0] as { dir: string }).dir);
      }
      if (first !== undefined && hasCheckpoint(first)) break;
      await sleep(20);
    }
    killGroup(interrupted.pid);
    const k = await interrupted.exited;
    assert.equal(k.signal, 'SIGKILL');
    for (let i = 0; groupMembers(interrupted.pid).length > 0; i++) {
      assert.ok(i < 250, `processes of the killed study still run: ${groupMembers(interrupted.pid).join(', ')}`);
      await sleep(20);
    }
    const trialsDir = join(killed, 'trials');
    const cut = readdirSync(trialsDir).filter((d) => hasCheckpoint(join(trialsDir, d)) && !existsSync(join(trialsDir, d, 'summary.json')));
    assert.ok(cut.length >= 1, 'the kill came after the first trial had finished: nothing was cut mid-trial');
    assert.equal(existsSync(join(killed, 'results.json')), false, 'the killed study wrote its results');

    // The re-run takes over the stale lock, resumes the cut trial from its checkpoint and runs the rest.
    const again = startCli(args(killed));
    const b = await again.exited;
    assert.equal(b.code, 0, b.stderr);
    for (const d of cut) assert.match(readFileSync(join(trialsDir, d, 'trial.log'), 'utf8'), /resuming .* after round \d+/, `trial ${d} was not resumed`);

    const ra = readResults(whole);
    const rb = readResults(killed);
    assert.deepEqual(rb.counts, { total: 2, done: 2, failed: 0, incomplete: 0 });
    assert.deepEqual(ra.counts, rb.counts);
    assert.equal(new Set(rb.trials.map((r) => r.trial)).size, rb.trials.length, 'a trial is recorded twice');
    assert.deepEqual(readdirSync(trialsDir).sort(), rb.trials.map((r) => r.trial).sort(), 'trial directories outside the plan');
    // Same trials, same figures (accuracies, losses, costs, widths, epochs): everything but the wall times.
    assert.deepEqual(rb.trials.map(untimed), ra.trials.map(untimed));
    for (const r of rb.trials) {
      assert.ok(r.testAccuracy !== null && r.widths !== null, `trial ${r.trial} has no result`);
      assert.deepEqual(untimedEvents(join(killed, r.dir)), untimedEvents(join(whole, r.dir)), `events of ${r.label as string}`);
    }

    for (const out of [whole, killed]) {
      for (const f of ['study.json', 'plan.json', 'results.json', 'results.csv', 'report.md', 'report.html']) assert.ok(existsSync(join(out, f)), `${out}/${f}`);
      const svgs = readdirSync(join(out, 'plots')).filter((f) => f.endsWith('.svg'));
      assert.ok(svgs.length >= 3, `plots: ${svgs.join(', ')}`);
      for (const f of svgs) assert.ok(readFileSync(join(out, 'plots', f), 'utf8').startsWith('<svg'), `${f} is not an SVG`);
      assert.equal(existsSync(join(out, 'compare.lock')), false);
    }
  });

  it('a broken study (a bad budget unit, an unknown method) exits 2 naming the JSON pointer, and starts no trial', async () => {
    const quick = JSON.parse(readFileSync(quickStudy, 'utf8')) as { budgets: { unit: string }; methods: { id: string }[] };
    const cases = [
      { name: 'unit', study: { ...quick, budgets: { ...quick.budgets, unit: 'flops' } }, pointer: '/budgets/unit' },
      { name: 'method', study: { ...quick, methods: [...quick.methods, { id: 'prune-l2' }] }, pointer: '/methods/2/id' },
    ];
    for (const c of cases) {
      const file = join(dir, `broken-${c.name}.json`);
      writeFileSync(file, JSON.stringify(c.study));
      const out = join(dir, `broken-${c.name}`);
      const run = startCli(['compare', '--study', file, '--out', out, '--jobs', '1']);
      const e = await run.exited;
      assert.equal(e.code, 2, `${c.name}: ${e.stderr}`);
      assert.match(e.stderr, /E_CONFIG_INVALID/);
      assert.ok(e.stderr.includes(c.pointer), `${c.name}: no ${c.pointer} in ${e.stderr}`);
      assert.equal(existsSync(out), false, `${c.name}: the study directory was created`);
    }
  });
});
