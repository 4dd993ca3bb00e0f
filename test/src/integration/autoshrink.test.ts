import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { checkOnnxAgainstTfjs, exportOnnx } from '@mitosis/deploy';
import { exportLayersModel, importLayersModel, tf, useBackend } from '@mitosis/engine';
import { MacsCostModel } from '@mitosis/hardware';
import { initWeights, inferShapes } from '@mitosis/ir';
import {
  fullNetwork,
  liveEdges,
  listSearchSpaces,
  loadSearchSpace,
  parseBudget,
  parseSearchSpace,
  readRunEvents,
  runMethod,
  type RunEvent,
  type RunSummary,
  type SearchSpace,
} from '@mitosis/growth';
import { tempDir, workspaceServices } from './growth-helpers.js';

/** A 3-node add-cell (9 edges) on 8×8 synthetic images: two stages, the second with stride 2. */
const space: SearchSpace = parseSearchSpace(
  {
    format: 'mitosis-search-space',
    version: 1,
    id: 'tiny-cell',
    description: 'test cell space',
    cell: {
      input: [8, 8, 1],
      nodes: ['conv3x3', 'sepconv3x3', 'conv1x1'],
      stem: { filters: 4 },
      stages: [{ filters: 4 }, { filters: 8, stride: 2 }],
      classes: 3,
    },
    data: { dataset: 'synthetic-images', options: { count: 180, height: 8, width: 8, channels: 1, classes: 3 }, normalise: false },
    loss: 'ce',
    training: { epochs: 1, batchSize: 32, learningRate: 0.05, optimizer: 'adam', schedule: 'constant' },
    fineTune: { epochs: 1, batchSize: 32, learningRate: 0.05, optimizer: 'adam', schedule: 'constant' },
    scoring: { samples: 64, batchSize: 64 },
    defaults: { method: 'autoshrink', rounds: 1 },
  },
  'tiny-cell.json',
);
const quick = { k: 3, proxyEpochs: 1, proxySamples: 64 };
// The full cell costs 28 824 MACs; without node 2 (the separable conv, both cells) 23 320, without node 1 (the
// 3×3 conv) 10 392; the cheapest one-node cell 4 888. With seed 3 the search needs three removals.
const budget = parseBudget('24kmacs');

const rounds = (events: readonly RunEvent[]): RunEvent[] => events.filter((e) => e.type === 'round');
const macsOf = (e: RunEvent): number => (e['cost'] as { macs: number }).macs;
const maskOf = (e: RunEvent): number[][] => (e['cell'] as { mask: number[][] }).mask;

describe('autoshrink (integration)', () => {
  const { dir, cleanup } = tempDir('autoshrink');
  let summary: RunSummary;
  before(async () => {
    await useBackend('cpu');
    const tensors = tf.memory().numTensors;
    summary = await runMethod({ space, method: 'autoshrink', methodOptions: quick, budget, rounds: 1, out: join(dir, 'a'), seed: 3, quiet: true }, await workspaceServices());
    assert.equal(tf.memory().numTensors, tensors, 'the run leaked tensors');
  });
  after(cleanup);

  it('shrinks to the budget, logging every cell with MACs that never rise, then trains the final cell for the equal epoch budget', () => {
    assert.equal(summary.kind, 'shrinker');
    assert.equal(summary.stopReason, 'budget');
    assert.equal(summary.budgetMet, true);
    assert.equal(summary.epochs.total, summary.epochs.planned);
    assert.equal(summary.epochs.planned, 2);
    const search = summary.search!;
    assert.ok(search.iterations >= 2, `${search.iterations} iterations`);
    assert.equal(search.proxyEpochs, search.candidates * 1);
    assert.equal(search.edges.initial, 9);
    assert.ok(existsSync(join(summary.model, 'model.json')));
    const events = readRunEvents(summary.log);
    const start = events.find((e) => e.type === 'start')!;
    const steps = rounds(events);
    assert.equal(steps.length, search.iterations);
    const macs = [macsOf(start), ...steps.map(macsOf)];
    for (let i = 1; i < macs.length; i++) assert.ok(macs[i]! <= macs[i - 1]!, `MACs rose: ${macs.join(' → ')}`);
    assert.ok(macs[macs.length - 1]! < macs[0]! && macs[macs.length - 1]! <= budget.value, macs.join(' → '));
    assert.equal(summary.cost.macs, macs[macs.length - 1]);
    // Every intermediate cell is in the log; the final one is the last and is what was trained.
    steps.forEach((e, i) => assert.equal((e['cell'] as { edges: number }).edges, liveEdges(maskOf(e)).length, `round ${i + 1}`));
    assert.deepEqual(search.cell.mask, maskOf(steps[steps.length - 1]!));
    assert.ok(events.some((e) => e.type === 'final'));
  });

  it('keeps, every iteration, the candidate with the best logged accuracy − 0.1·(log10 MACs − 6)', () => {
    for (const e of rounds(readRunEvents(summary.log))) {
      const candidates = e['candidates'] as { edge: string; accuracy: number; cost: { macs: number }; score: number }[];
      assert.ok(candidates.length >= 1 && candidates.length <= 3);
      for (const c of candidates) assert.ok(Math.abs(c.score - (c.accuracy - 0.1 * (Math.log10(c.cost.macs) - 6))) < 1e-9);
      const best = Math.max(...candidates.map((c) => c.score));
      assert.equal(candidates[e['chosen'] as number]!.score, best);
      assert.equal(e['removed'], candidates[e['chosen'] as number]!.edge);
      assert.equal(macsOf(e), candidates[e['chosen'] as number]!.cost.macs);
    }
  });

  it('resumed after a kill mid-search, it ends with the same cell, weights and log', async () => {
    // The run as a kill after iteration 1 leaves it: later search checkpoints, the trained model and the summary
    // never written, and a torn last line in the log.
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    cpSync(a, b, { recursive: true });
    for (let r = 2; r <= summary.search!.iterations; r++) rmSync(join(b, 'search', 'checkpoints', `round-${String(r).padStart(3, '0')}`), { recursive: true });
    for (const name of ['checkpoints', 'model', 'summary.json']) rmSync(join(b, name), { recursive: true, force: true });
    appendFileSync(join(b, 'events.jsonl'), '{"type":"round","round":2,"cell":{"ma');
    const resumed = await runMethod({ space, method: 'autoshrink', methodOptions: quick, budget, rounds: 1, out: b, seed: 3, quiet: true, resume: true }, await workspaceServices());
    assert.deepEqual(resumed.search!.cell.mask, summary.search!.cell.mask);
    assert.equal(resumed.search!.candidates, summary.search!.candidates);
    assert.equal(resumed.final.testLoss, summary.final.testLoss);
    assert.deepEqual(readFileSync(join(b, 'checkpoints', 'round-000', 'weights.bin')), readFileSync(join(a, 'checkpoints', 'round-000', 'weights.bin')));
    const strip = (events: RunEvent[]): unknown[] => events.map((e) => ({ ...e, imagesPerSecond: undefined }));
    assert.deepEqual(strip(readRunEvents(resumed.log)), strip(readRunEvents(summary.log)));
  });

  it('every shipped cell space compiles, prices, and exports to TF.js and to ONNX that ONNX Runtime runs like TF.js', async () => {
    const ids = listSearchSpaces().filter((id) => loadSearchSpace(id).space.cell !== undefined);
    assert.deepEqual(ids, ['cell-cifar', 'cell-fashion', 'cell-fashion-quick']);
    for (const id of ids) {
      const loaded = loadSearchSpace(id).space;
      for (const [which, spec] of [['seed', loaded.seed], ['full', fullNetwork(loaded)]] as const) {
        assert.deepEqual(inferShapes(spec).get('logits'), [loaded.cell!.classes], `${id} ${which}`);
        assert.ok(new MacsCostModel().estimate(spec).total! > 0);
        const weights = initWeights(spec, 1);
        const modelDir = join(dir, `export-${id}-${which}`);
        await exportLayersModel(modelDir, spec, weights);
        const back = await importLayersModel(modelDir);
        assert.equal(back.weights.size, weights.size, `${id} ${which}`);
        const onnx = exportOnnx(spec, weights);
        const check = await checkOnnxAgainstTfjs(onnx.bytes, onnx.info, spec, weights, null, { samples: 2 });
        assert.ok(check.maxAbsDiff <= 1e-4 * Math.max(1, check.maxAbsOutput), `${id} ${which}: ONNX differs by ${check.maxAbsDiff}`);
      }
    }
  });

  it('refuses, before any training, a space without cells and budgets no edge removal can meet', async () => {
    const services = await workspaceServices();
    const out = join(dir, 'refused');
    await assert.rejects(
      runMethod({ space: loadSearchSpace('convnet-mnist').space, method: 'autoshrink', budget, rounds: 1, out, seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_USAGE') && /cell search space/.test(e.message),
    );
    await assert.rejects(
      runMethod({ space, method: 'autoshrink', budget: parseBudget('30kmacs'), rounds: 1, out, seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE') && /start cell/.test(e.message),
    );
    await assert.rejects(
      runMethod({ space, method: 'autoshrink', budget: parseBudget('4kmacs'), rounds: 1, out, seed: 0, quiet: true }, services),
      (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE') && /cheapest cell/.test(e.message),
    );
    assert.equal(existsSync(join(out, 'events.jsonl')), false);
  });
});
