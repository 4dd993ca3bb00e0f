import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { tf, useBackend } from '@mitosis/engine';
import { grow, loadSearchSpace, parseBudget, type RunEvent, type SearchSpace } from '@mitosis/growth';
import { readEvents, repoRoot, runCliProcess as run, tempDir, workspaceServices } from './growth-helpers.js';

/** A search space made small enough for the test budget. */
function small(id: string, patch: (s: SearchSpace) => Partial<SearchSpace>): SearchSpace {
  const space = loadSearchSpace(id).space;
  return { ...space, ...patch(space) };
}

const mlp = small('mlp-mnist', (s) => ({
  data: { ...s.data, options: { limit: { train: 1000, val: 200, test: 300 } } },
  training: { ...s.training, epochs: 2 },
  scoring: { samples: 256, batchSize: 128 },
}));

const convnet = small('convnet-mnist', (s) => ({
  data: { ...s.data, options: { limit: { train: 768, val: 128, test: 256 } } },
  training: { ...s.training, epochs: 2 },
  scoring: { samples: 128, batchSize: 64 },
}));

describe('growth runs (integration)', () => {
  const { dir, cleanup } = tempDir('grow');
  before(async () => {
    await useBackend('wasm');
  });
  after(cleanup);

  it('mlp-mnist: the loss change right after each split is within 10% of the second-order prediction', async () => {
    const out = join(dir, 'mlp');
    // Small ε keeps the O(ε⁴) remainder negligible; batch norm is in eval mode for scoring and for the measurement.
    await grow({ space: mlp, grower: 's2d', growerOptions: { epsilon: 0.003 }, rounds: 2, out, seed: 0, quiet: true }, await workspaceServices());
    const rounds = readEvents(out).filter((e) => e.type === 'round');
    assert.equal(rounds.length, 2);
    for (const r of rounds) {
      const split = r['change'] as { predictedDeltaLoss: number; measuredDeltaLoss: number; count: number };
      assert.ok(split.count > 0 && split.predictedDeltaLoss < 0);
      const ratio = split.measuredDeltaLoss / split.predictedDeltaLoss;
      assert.ok(Math.abs(ratio - 1) <= 0.1, `round ${r.round}: measured ${split.measuredDeltaLoss} vs predicted ${split.predictedDeltaLoss}`);
    }
  });

  for (const grower of ['s2d', 'signed', 'energy-aware', 'random-split', 'random-neuron']) {
    it(`convnet-mnist: three rounds of ${grower} complete with leak-free memory`, async (t) => {
      const before = tf.memory().numTensors;
      const summary = await grow(
        { space: convnet, grower, profile: 'note10-cpu', rounds: 3, out: join(dir, `conv-${grower}`), seed: 1, quiet: true },
        await workspaceServices(),
      );
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by a growth run');
      const events = readEvents(join(dir, `conv-${grower}`));
      const rounds = events.filter((e) => e.type === 'round');
      assert.equal(rounds.length, summary.rounds);
      assert.ok(summary.rounds === 3 || summary.stopReason !== 'rounds', `${grower} stopped early without a reason`);
      assert.ok((summary.cost.macs ?? 0) > 283072, 'the network grew');
      for (const r of [events.find((e) => e.type === 'seed')!, ...rounds]) {
        const c = r['cost'] as { macs: number; ms: number };
        t.diagnostic(`round ${r.round}: test accuracy ${(r['testAccuracy'] as number).toFixed(3)}, MACs ${c.macs}, note10-cpu ${c.ms.toFixed(4)} ms`);
      }
      assert.ok(existsSync(join(summary.model, 'model.json')));
    });
  }

  it('a budget in a unit no cost model measures, an unknown grower and caps below the seed width fail before training', async () => {
    const services = await workspaceServices();
    await assert.rejects(
      grow({ space: mlp, grower: 's2d', budget: parseBudget('5mJ'), rounds: 1, out: join(dir, 'bad1'), seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_UNIT_MISMATCH') && /mJ/.test(e.message),
    );
    await assert.rejects(
      grow({ space: mlp, grower: 's2dd', rounds: 1, out: join(dir, 'bad2'), seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_PLUGIN_UNKNOWN') && (e.details['known'] as string[]).includes('s2d'),
    );
    const capped = { ...mlp, layers: { fc1: { cap: 8, group: 'all' } } };
    await assert.rejects(
      grow({ space: capped, grower: 's2d', rounds: 1, out: join(dir, 'bad3'), seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_CONFIG_INVALID') && (e.details['problems'] as { pointer: string }[])[0]?.pointer === '/layers/fc1/cap',
    );
    await assert.rejects(
      grow({ space: mlp, grower: 's2d', growerOptions: { fraction: 3 }, rounds: 1, out: join(dir, 'bad4'), seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_OPTIONS_INVALID'),
    );
    // Before any training: no run directory holds a seed event.
    for (const bad of ['bad1', 'bad2', 'bad3', 'bad4']) assert.ok(!readEvents(join(dir, bad)).some((e) => e.type === 'seed'), bad);
    await assert.rejects(
      grow({ space: mlp, grower: 's2d', growerOptions: { solver: 'nope' }, rounds: 1, out: join(dir, 'bad5'), seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_PLUGIN_UNKNOWN') && /eigen solver "nope"/.test(e.message),
    );
    assert.ok(!readEvents(join(dir, 'bad5')).some((e) => e.type === 'seed'));
  });

  it('SIGKILL during round 2, then --resume, gives the same final model and log as an uninterrupted run', async () => {
    const spaceFile = join(dir, 'mlp-small.json');
    writeFileSync(spaceFile, JSON.stringify({ ...mlp, seed: mlp.seed }));
    const args = (out: string, resume = false): string[] => [
      join(repoRoot, 'packages/cli/dist/main.js'), 'grow', '--space', spaceFile, '--grower', 's2d', '--grower-options', '{"solver":"lanczos"}',
      '--rounds', '3', '--seed', '5', '--backend', 'wasm', '--out', out, ...(resume ? ['--resume'] : []),
    ];
    const full = join(dir, 'full');
    await run(args(full));
    const killed = join(dir, 'killed');
    // Kill as soon as round 1 is logged, i.e. during round 2.
    const code = await run(args(killed), () => readEvents(killed).some((e) => e.type === 'round' && e.round === 1));
    assert.equal(code, 'SIGKILL');
    assert.ok(!readEvents(killed).some((e) => e.round === 3), 'the kill came too late to test anything');
    await run(args(killed, true));
    const strip = (events: RunEvent[]): unknown[] => events.map(({ timeMs: _t, imagesPerSecond: _i, ...rest }) => rest);
    assert.deepEqual(strip(readEvents(killed)), strip(readEvents(full)));
    assert.ok(readFileSync(join(killed, 'model', 'weights.bin')).equals(readFileSync(join(full, 'model', 'weights.bin'))), 'final weights differ');
  });
});
