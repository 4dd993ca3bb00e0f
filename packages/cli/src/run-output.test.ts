import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadSearchSpace, type RunEvent, type RunSummary } from '@mitosis/growth';
import { captureCli, type CliResult } from './testing/capture-cli.js';
import { formatCost, formatLoss, formatPhaseTime, formatRunEvent, renderSummary } from './run-output.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-run-output-'));
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv);
}

const round: RunEvent = {
  type: 'round',
  round: 2,
  widths: { conv1: 9 },
  trainLoss: 0.5,
  valLoss: 0.45,
  valAccuracy: 0.8,
  testLoss: 0.3121,
  testAccuracy: 0.912,
  epochs: 6,
  cost: { macs: 412_345, params: 1200, ms: null },
  change: { action: 'grow', count: 12 },
  timeMs: { score: 1234, plan: 4, apply: 80, fineTune: 8300, evaluate: 310 },
};

describe('run console lines', () => {
  it('a round: accuracy and loss, cost in the budget unit with its share, and every phase time', () => {
    const line = formatRunEvent(round, { unit: 'macs', budget: { value: 500_000, unit: 'macs' }, rounds: 5 });
    assert.equal(
      line,
      'round 2/5 +12 ch     | test acc 91.20%, loss 0.3121 | 412.3k macs = 82.5% of 500k macs | score 1.2s, plan 0.0s, apply 0.1s, fine-tune 8.3s, evaluate 0.3s',
    );
  });

  it('without a budget the cost stands alone; a pruning round shows the channels it removed', () => {
    const line = formatRunEvent({ ...round, change: { action: 'prune', count: 3 } }, { unit: 'macs', budget: null, rounds: 5 });
    assert.match(line ?? '', /^round 2\/5 −3 ch +\| test acc 91\.20%, loss 0\.3121 \| 412\.3k macs \| score/);
  });

  it('the seed and the final epochs get a line too; a regression shows its loss only; other events none', () => {
    const seed = formatRunEvent(
      { type: 'seed', round: 0, testLoss: 2.5e-12, testAccuracy: null, epochs: 3000, cost: { macs: 2, params: 4 }, timeMs: { train: 3900, evaluate: 12 } },
      { unit: 'macs', budget: { value: 8, unit: 'macs' }, rounds: 1 },
    );
    assert.equal(seed, 'seed      3000 epochs | test loss 2.50e-12 | 2 macs = 25.0% of 8 macs | train 3.9s, evaluate 0.0s');
    const final = formatRunEvent({ type: 'final', round: 1, testLoss: null, valLoss: 0.2, valAccuracy: 0.5, epochs: 9, cost: { ms: 0.0591 } }, { unit: 'ms', budget: { value: 0.1, unit: 'ms' }, rounds: 3 });
    assert.equal(final, 'final     9 epochs   | val acc 50.00%, loss 0.2000 | 0.0591 ms = 59.1% of 0.1 ms');
    assert.equal(formatRunEvent({ type: 'stop', round: 2, reason: 'no-useful-split' }, { unit: 'macs', budget: null, rounds: 3 }), 'round 2/3 no change, the run stops (no-useful-split)');
    assert.equal(formatRunEvent({ type: 'rollback', round: 1 }, { unit: 'macs', budget: null, rounds: 1 }), null);
    assert.equal(formatRunEvent({ type: 'start' }, { unit: 'macs', budget: null, rounds: 1 }), null);
  });

  it('formats costs, losses and times', () => {
    assert.equal(formatCost(554_500, 'macs'), '554.5k macs');
    assert.equal(formatCost(2_500_000_000, 'macs'), '2.5G macs');
    assert.equal(formatCost(12, 'params'), '12 params');
    assert.equal(formatCost(40.123, 'mJ'), '40.1 mJ');
    assert.equal(formatLoss(0), '0.0000');
    assert.equal(formatLoss(1.06e-12), '1.06e-12');
    assert.equal(formatPhaseTime(950), '0.9s');
    assert.equal(formatPhaseTime(42_400), '42s');
    assert.equal(formatPhaseTime(125_000), '2m05s');
  });

  it('the summary names the device, the budget and its share, and the wall time with its phases', () => {
    const summary = {
      kind: 'pruner',
      space: 's',
      method: 'prune-l1',
      rounds: 3,
      stopReason: 'budget',
      epochs: { total: 10, planned: 10 },
      final: { trainLoss: 0.1, valLoss: 0.2, valAccuracy: 0.9, testLoss: 0.25, testAccuracy: 0.9312 },
      cost: { macs: 399_000, ms: 0.0591 },
      widths: { conv1: 8 },
      device: 'note10-cpu',
      budget: { value: 400_000, unit: 'macs' },
      budgetUsed: 0.9975,
      budgetMet: true,
      wallMs: 39_000,
      phaseMs: { train: 20_000, score: 1000, plan: 0, apply: 10, fineTune: 17_000, evaluate: 900 },
      model: 'm',
      log: 'l',
      summary: 's.json',
    } as unknown as RunSummary;
    const text = renderSummary(summary);
    assert.match(text, /^pruned s with prune-l1: 3 round\(s\), stopped by budget, 10 epochs$/m);
    assert.match(text, /test accuracy 93\.12%, loss 0\.2500; macs 399k, ms 0\.0591/);
    assert.match(text, /^ {2}device: {2}note10-cpu$/m);
    assert.match(text, /^ {2}budget: {2}400k macs: 99\.8% used$/m);
    assert.match(text, /^ {2}time: {4}39s wall \(train 20s, score 1\.0s, apply 0\.0s, fine-tune 17s, evaluate 0\.9s\)$/m);
  });
});

describe('mitosis grow: console, --force, --resume', () => {
  // toy-1d with 20-epoch phases: a whole run takes well under a second.
  const toy = loadSearchSpace('toy-1d').space;
  const spaceFile = join(root, 'toy-fast.json');
  writeFileSync(
    spaceFile,
    JSON.stringify({ ...toy, id: 'toy-fast', training: { ...toy.training, epochs: 20 }, fineTune: { ...toy.fineTune, epochs: 20 } }),
  );
  const out = join(root, 'run');
  const grow = (...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    cli('grow', '--space', spaceFile, '--rounds', '2', '--budget', '8macs', '--backend', 'cpu', '--out', out,
      // Split even without a negative eigenvalue, so that both rounds change the network after 20 epochs.
      '--grower-options', '{"selection":"top-k","k":1,"requireNegative":false}', ...extra);

  it('prints one line per round with accuracy/loss, cost, budget share and phase times, and a summary with device, budget, wall time', async () => {
    const r = await grow();
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n');
    const seed = lines.filter((l) => l.startsWith('seed '));
    const rounds = lines.filter((l) => /^round \d\/2 /.test(l));
    assert.equal(seed.length, 1, r.stderr);
    assert.equal(rounds.length, 2, r.stderr);
    for (const l of rounds) assert.match(l, /^round \d\/2 \+1 ch +\| test loss \S+ \| \d+ macs = \d+\.\d% of 8 macs \| score \d+\.\ds, plan \d+\.\ds, apply \d+\.\ds, fine-tune \d+\.\ds, evaluate \d+\.\ds$/);
    assert.match(r.stdout, /^ {2}device: {2}none/m);
    assert.match(r.stdout, /^ {2}budget: {2}8 macs: \d+\.\d% used$/m);
    assert.match(r.stdout, /^ {2}time: {4}\S+ wall \(train /m);
  });

  it('refuses to overwrite the run without --force, naming --resume and --force (exit 2)', async () => {
    const before = readFileSync(join(out, 'summary.json'), 'utf8');
    const r = await grow();
    assert.equal(r.code, 2);
    assert.match(r.stderr, /E_USAGE: .* already holds a run; pass --resume to continue it, --force to start over/);
    assert.equal(readFileSync(join(out, 'summary.json'), 'utf8'), before);
  });

  it('--force replaces it and says so', async () => {
    const r = await grow('--force');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^--force: replacing the run in ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });

  it('--resume where there is no run is an error (exit 2) and creates nothing; --force with --resume too', async () => {
    const empty = join(root, 'never');
    const r = await cli('--json', 'grow', '--space', spaceFile, '--backend', 'cpu', '--out', empty, '--resume');
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'E_USAGE');
    assert.match(doc.error.message, /holds no run to resume/);
    assert.equal(existsSync(empty), false);
    const both = await grow('--force', '--resume');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--force .* and --resume .* exclude each other/);
  });
});
