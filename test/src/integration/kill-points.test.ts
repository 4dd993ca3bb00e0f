import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError, setWritePointHook, type WritePoint } from '@mitosis/core';
import { useBackend } from '@mitosis/engine';
import { loadSearchSpace, runMethod, type RunEvent, type RunOptions, type RunServices, type RunSummary, type SearchSpace } from '@mitosis/growth';
import { readEvents, repoRoot, runCliProcess, tempDir, workspaceServices } from './growth-helpers.js';

/**
 * Kill-point matrix (issue 16, item 7): a tiny toy-1d run is crashed at every durable write it makes — inside
 * run.json, the log, each checkpoint file, the folder renames, the model and the summary — through core's write
 * point hook (which leaves half of that write behind, as a crash would), then resumed; every resume must succeed
 * and end with the events, weights and summary of the uninterrupted run. Two real SIGKILLs (mid run.json and
 * mid log, via MITOSIS_TEST_KILL_AT_WRITE) check the same through the CLI, with the stale lock and temporary
 * files a killed process leaves.
 */

class Crash extends Error {}

/** The parts of a run that must not depend on a crash: effective events, final weights, summary. */
interface Outcome {
  readonly events: unknown[];
  readonly weights: Buffer;
  readonly summary: unknown;
}

const untimed = (events: RunEvent[]): unknown[] => events.map(({ timeMs: _t, imagesPerSecond: _i, ...rest }) => rest);

function outcome(dir: string): Outcome {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  const { wallMs: _w, phaseMs: _p, runDir: _r, model: _m, log: _l, summary: _s, ...rest } = summary;
  return { events: untimed(readEvents(dir)), weights: readFileSync(join(dir, 'model', 'weights.bin')), summary: rest };
}

/** Names a crash leaves that a resume must have cleaned (temporary files and folders, a lock). */
function leftovers(dir: string): string[] {
  const names = [...readdirSync(dir), ...(existsSync(join(dir, 'checkpoints')) ? readdirSync(join(dir, 'checkpoints')) : [])];
  return names.filter((n) => n.startsWith('.'));
}

describe('kill-point matrix: a crash at any write, then --resume, equals the uninterrupted run', () => {
  const { dir, cleanup } = tempDir('killpoints');
  let space: SearchSpace;
  let services: RunServices;
  before(async () => {
    await useBackend('cpu');
    const toy = loadSearchSpace('toy-1d').space;
    space = { ...toy, id: 'toy-kill', training: { ...toy.training, epochs: 6 }, fineTune: { ...toy.fineTune, epochs: 3 } };
    services = await workspaceServices();
  });
  after(() => {
    setWritePointHook(undefined);
    cleanup();
  });

  const options = (out: string, resume = false): RunOptions => ({
    space,
    method: 'random-split',
    methodOptions: { selection: 'top-k', k: 1 },
    rounds: 2,
    out,
    seed: 3,
    quiet: true,
    resume,
  });

  it('every write point of a 2-round run', async (t) => {
    const points: WritePoint[] = [];
    setWritePointHook((p) => void points.push(p));
    let whole: RunSummary;
    try {
      whole = await runMethod(options(join(dir, 'whole')), services);
    } finally {
      setWritePointHook(undefined);
    }
    assert.equal(whole.rounds, 2, 'the reference run grows twice');
    const expected = outcome(join(dir, 'whole'));
    const names = points.map((p) => `${p.kind} ${p.path.replace(join(dir, 'whole'), '').replace(/\.tmp-[^/]*/, '.tmp-*').replace(/\.old-[^/]*/, '.old-*')}`);
    // The matrix covers mid run.json, mid log line, every checkpoint file, the renames, the model and the summary.
    for (const must of [/^file \/\.run\.json\.tmp-\*$/, /^rename \/run\.json$/, /^append \/events\.jsonl$/, /^file \/checkpoints\/\.round-001\.tmp-\*\/weights\.bin$/, /^rename \/checkpoints\/round-002$/, /^file \/\.model\.tmp-\*\/weights\.bin$/, /^rename \/summary\.json$/, /checksums\.json/]) {
      assert.ok(names.some((n) => must.test(n)), `a write point matching ${must} in\n${names.join('\n')}`);
    }
    t.diagnostic(`${points.length} write points`);
    const failures: string[] = [];
    for (let k = 1; k <= points.length; k++) {
      const out = join(dir, `k${k}`);
      let seen = 0;
      setWritePointHook(() => {
        if (++seen === k) throw new Crash(`crash at write ${k}`);
      });
      try {
        await assert.rejects(runMethod(options(out), services), Crash);
      } finally {
        setWritePointHook(undefined);
      }
      try {
        await runMethod(options(out, true), services);
        const got = outcome(out);
        assert.deepEqual(got.events, expected.events, 'events');
        assert.ok(got.weights.equals(expected.weights), 'final weights');
        assert.deepEqual(got.summary, expected.summary, 'summary');
        assert.deepEqual(leftovers(out), [], 'temporary files and the lock are gone');
      } catch (error) {
        failures.push(`write ${k} (${names[k - 1]}): ${(error as Error).message.split('\n')[0]}`);
      }
    }
    t.diagnostic(`resumed after a crash at each of ${points.length} write points: ${points.length - failures.length} identical to the uninterrupted run`);
    assert.deepEqual(failures, []);
  });

  it('a damaged last checkpoint is refused naming the file and the intact round; --resume-round continues from it', async () => {
    const out = join(dir, 'damaged');
    // Crash at the summary: rounds 0, 1 and 2 are checkpointed.
    setWritePointHook((p) => {
      if (p.path.endsWith('summary.json')) throw new Crash('crash');
    });
    try {
      await assert.rejects(runMethod(options(out), services), Crash);
    } finally {
      setWritePointHook(undefined);
    }
    const bin = join(out, 'checkpoints', 'round-002', 'weights.bin');
    const bytes = readFileSync(bin);
    bytes[5] = bytes[5]! ^ 0xff;
    writeFileSync(bin, bytes);
    await assert.rejects(runMethod(options(out, true), services), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_CHECKPOINT'));
      assert.equal(e.details['file'], bin);
      assert.equal(e.details['previousGood'], 1);
      assert.match(e.message, /--resume-round 1/);
      return true;
    });
    await runMethod({ ...options(out, true), resumeRound: 1 }, services);
    const expected = outcome(join(dir, 'whole'));
    const got = outcome(out);
    assert.deepEqual(got.events, expected.events);
    assert.ok(got.weights.equals(expected.weights));
    assert.ok(readdirSync(join(out, 'checkpoints')).some((n) => /^\.round-002\.discarded-/.test(n)), 'the damaged checkpoint is set aside, not deleted');
  });

  it('SIGKILL mid run.json and mid log line (real processes), then --resume through the CLI', async (t) => {
    const spaceFile = join(dir, 'toy-kill.json');
    writeFileSync(spaceFile, JSON.stringify(space));
    const args = (out: string, resume = false): string[] => [
      join(repoRoot, 'packages/cli/dist/main.js'), 'run', '--space', spaceFile, '--method', 'random-split', '--method-options', '{"selection":"top-k","k":1}',
      '--rounds', '2', '--seed', '3', '--backend', 'cpu', '--out', out, ...(resume ? ['--resume'] : []),
    ];
    const expected = outcome(join(dir, 'whole'));
    // Write point 1 is run.json's temporary file; 3 is the `start` line of the log (2 is run.json's rename).
    for (const k of [1, 3]) {
      const out = join(dir, `sigkill-${k}`);
      const code = await runCliProcess(args(out), undefined, { MITOSIS_TEST_KILL_AT_WRITE: String(k) });
      assert.equal(code, 'SIGKILL');
      assert.ok(existsSync(join(out, '.lock')), 'the killed process left its lock');
      await runCliProcess(args(out, true));
      const got = outcome(out);
      assert.deepEqual(got.events, expected.events);
      assert.ok(got.weights.equals(expected.weights));
      assert.deepEqual(leftovers(out), []);
    }
    t.diagnostic('SIGKILL at write points 1 (mid run.json) and 3 (mid log line): both resumed to the uninterrupted result');
  });
});
