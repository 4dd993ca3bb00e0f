import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { tf, useBackend } from '@mitosis/engine';
import { tinyMobileNetSpec } from '@mitosis/ir';
import { loadSearchSpace, parseBudget, runMethod, type RunEvent, type SearchSpace } from '@mitosis/growth';
import { readEvents, repoRoot, runCliProcess, tempDir, workspaceServices } from './growth-helpers.js';

/** tinyMobileNetSpec (conv1 and pw1 tied by a residual add) on small synthetic 8×8×3 images. */
const tiny: SearchSpace = {
  ...loadSearchSpace('convnet-mnist').space,
  id: 'tiny-mobilenet',
  seed: tinyMobileNetSpec(),
  layers: { conv1: { cap: 14, min: 2 }, pw2: { cap: 10, min: 2 }, fc: { cap: 24, min: 2 } },
  data: { dataset: 'synthetic-images', options: { count: 240, height: 8, width: 8, channels: 3, classes: 3 }, normalise: false },
  training: { ...loadSearchSpace('convnet-mnist').space.training, epochs: 1, batchSize: 32 },
  fineTune: { ...loadSearchSpace('convnet-mnist').space.fineTune, epochs: 1, batchSize: 32 },
  scoring: { samples: 64, batchSize: 32 },
};

/** convnet-mnist on a few hundred digits (the acceptance budget of the methods issue, made quick). */
const convnet: SearchSpace = (() => {
  const s = loadSearchSpace('convnet-mnist').space;
  return {
    ...s,
    data: { ...s.data, options: { limit: { train: 2048, val: 256, test: 512 } } },
    training: { ...s.training, epochs: 1 },
    fineTune: { ...s.fineTune, epochs: 1 },
    scoring: { samples: 128, batchSize: 64 },
  };
})();

describe('methods (integration)', () => {
  const { dir, cleanup } = tempDir('methods');
  before(async () => {
    await useBackend('wasm');
  });
  after(cleanup);

  it('every installed method completes three rounds on a network with tied producers, leak-free', async (t) => {
    const services = await workspaceServices();
    const ids = [...services.growers.ids(), ...services.pruners.ids(), ...services.resizers.ids()];
    for (const method of ids) {
      const kind = services.growers.has(method) ? 'grower' : services.pruners.has(method) ? 'pruner' : 'resizer';
      const before = tf.memory().numTensors;
      const budget = parseBudget('35kmacs');
      const summary = await runMethod({ space: tiny, method, rounds: 3, budget, out: join(dir, `tiny-${method}`), seed: 2, quiet: true }, services);
      assert.equal(tf.memory().numTensors, before, `${method} leaked tensors`);
      assert.equal(summary.epochs.total, summary.epochs.planned, `${method} trained a different number of epochs`);
      if (kind !== 'resizer') assert.equal(summary.rounds, 3, `${method} stopped after ${summary.rounds} rounds (${summary.stopReason})`);
      assert.ok(summary.budgetMet, `${method} ended outside its budget (${summary.cost.macs} MACs)`);
      t.diagnostic(`${method}: ${summary.cost.macs} MACs, widths ${JSON.stringify(summary.widths)}, stop ${summary.stopReason}`);
    }
  });

  it('finalPhase retrain re-initialises the found architecture and trains it from scratch for the epochs left', async () => {
    const services = await workspaceServices();
    const space: SearchSpace = { ...tiny, finalEpochs: 1 };
    const budget = parseBudget('35kmacs');
    const run = async (finalPhase: 'continue' | 'retrain', out: string) =>
      runMethod({ space: { ...space, finalPhase }, method: 'energy-aware', rounds: 2, budget, out: join(dir, out), seed: 4, quiet: true }, services);
    const kept = await run('continue', 'final-continue');
    const fresh = await run('retrain', 'final-retrain');
    // The search is the same (same seed, same rounds), so the architecture is too; only the last phase differs.
    assert.deepEqual(fresh.widths, kept.widths);
    assert.equal(fresh.epochs.total, kept.epochs.total);
    const finalOf = (d: string): RunEvent | undefined => readEvents(join(dir, d)).find((e) => e.type === 'final');
    assert.equal((finalOf('final-retrain') as { retrained?: boolean } | undefined)?.retrained, true);
    assert.equal((finalOf('final-continue') as { retrained?: boolean } | undefined)?.retrained, undefined);
    assert.notEqual(fresh.final.trainLoss, kept.final.trainLoss);
  });

  it('convnet-mnist at 400k MACs: every baseline and splitting method ends within [90 %, 100 %] of the target with equal epochs', async (t) => {
    const services = await workspaceServices();
    const epochs = new Set<number>();
    for (const method of ['energy-aware', 's2d', 'signed', 'prune-l1', 'prune-slimming', 'prune-taylor', 'width-multiplier']) {
      const summary = await runMethod({ space: convnet, method, profile: 'note10-cpu', rounds: 3, budget: parseBudget('400kmacs'), out: join(dir, `c-${method}`), seed: 0, quiet: true }, services);
      t.diagnostic(`${method}: ${summary.cost.macs} MACs (${(100 * summary.budgetUsed!).toFixed(1)} %), test accuracy ${summary.final.testAccuracy}, ${summary.epochs.total} epochs`);
      assert.ok(summary.budgetUsed! >= 0.9 && summary.budgetUsed! <= 1, `${method} used ${summary.budgetUsed} of the budget`);
      epochs.add(summary.epochs.total);
    }
    assert.deepEqual([...epochs], [convnet.training.epochs + 3 * convnet.fineTune.epochs]);
  });

  it('a fine-tune that diverges is rolled back and retried with half the step and rate, then stops the run as diverged', async () => {
    const services = await workspaceServices();
    const toy = loadSearchSpace('toy-1d').space;
    // SGD at a huge rate diverges within the first fine-tuning epoch whatever the split.
    const space: SearchSpace = {
      ...toy,
      training: { ...toy.training, epochs: 5 },
      fineTune: { ...toy.fineTune, epochs: 5, optimizer: 'sgd', learningRate: 1e12, schedule: 'constant' },
    };
    const out = join(dir, 'diverge');
    const summary = await runMethod({ space, method: 's2d', methodOptions: { selection: 'top-k', k: 1, requireNegative: false }, rounds: 2, out, seed: 0, quiet: true }, services);
    const events = readEvents(out);
    const rollbacks = events.filter((e) => e.type === 'rollback');
    assert.deepEqual(rollbacks.map((e) => e['attempt']), [1, 2, 3]);
    assert.ok(rollbacks.every((e) => e.round === 1 && /diverged|loss/i.test(String(e['reason']))));
    assert.equal(summary.stopReason, 'diverged');
    assert.equal(summary.rounds, 0);
    // The network of the last good state (the trained seed) is what the run ends with.
    assert.deepEqual(summary.widths, { hidden: 1, out: 1 });
  });

  it('budgets no method of that kind can meet fail before any training', async () => {
    const services = await workspaceServices();
    const cases: [string, string, string][] = [
      ['energy-aware', '100kmacs', 'below the seed'],
      ['prune-l1', '900Mmacs', 'above the full'],
    ];
    for (const [method, budget, words] of cases) {
      const out = join(dir, `infeasible-${method}`);
      await assert.rejects(
        runMethod({ space: convnet, method, rounds: 2, budget: parseBudget(budget), out, seed: 0, quiet: true }, services),
        (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE') && e.message.includes(words),
      );
      assert.equal(readEvents(out).length, 0);
    }
    await assert.rejects(runMethod({ space: convnet, method: 'prune-taylor', rounds: 2, out: join(dir, 'nobudget'), seed: 0, quiet: true }, services), (e: unknown) => NasError.is(e, 'E_USAGE'));
    await assert.rejects(runMethod({ space: convnet, method: 'prune-l2', rounds: 2, out: join(dir, 'unknown'), seed: 0, quiet: true }, services), (e: unknown) =>
      NasError.is(e, 'E_PLUGIN_UNKNOWN') && /pruners: .*prune-l1/.test(e.message),
    );
  });

  it('SIGKILL during round 2 of a pruning run, then --resume, gives the same final weights as an uninterrupted run', async () => {
    const spaceFile = join(dir, 'convnet-small.json');
    writeFileSync(spaceFile, JSON.stringify(convnet));
    const args = (out: string, resume = false): string[] => [
      join(repoRoot, 'packages/cli/dist/main.js'), 'run', '--space', spaceFile, '--method', 'prune-taylor', '--budget', '400kmacs',
      '--rounds', '3', '--seed', '5', '--backend', 'wasm', '--out', out, ...(resume ? ['--resume'] : []),
    ];
    const full = join(dir, 'p-full');
    await runCliProcess(args(full));
    const killed = join(dir, 'p-killed');
    const code = await runCliProcess(args(killed), () => readEvents(killed).some((e) => e.type === 'round' && e.round === 1));
    assert.equal(code, 'SIGKILL');
    assert.ok(!readEvents(killed).some((e) => e.round === 3), 'the kill came too late to test anything');
    await runCliProcess(args(killed, true));
    const strip = (events: RunEvent[]): unknown[] => events.map(({ timeMs: _t, imagesPerSecond: _i, ...rest }) => rest);
    assert.deepEqual(strip(readEvents(killed)), strip(readEvents(full)));
    assert.ok(readFileSync(join(killed, 'model', 'weights.bin')).equals(readFileSync(join(full, 'model', 'weights.bin'))), 'final weights differ');
  });
});
