import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { useBackend } from '@mitosis/engine';
import { grow, loadSearchSpace, type SearchSpace } from '@mitosis/growth';
import { tempDir, weightMap, workspaceServices } from './growth-helpers.js';

/** The 1-neuron local minimum of algorithms.md §9 C: f = a·tanh(w·x + b) with a*, w*, b* = 0 (output bias 0). */
const localMinimum = weightMap({
  'hidden/kernel': { shape: [1, 1], data: [1.2559094689961452] },
  'hidden/bias': { shape: [1], data: [0] },
  'out/kernel': { shape: [1, 1], data: [2.0458627172145643] },
  'out/bias': { shape: [1], data: [0] },
});

describe('toy-1d (§9 C): splitting escapes a strict parametric local minimum', () => {
  const { dir, cleanup } = tempDir('toy');
  let space: SearchSpace;
  before(async () => {
    await useBackend('cpu');
    space = loadSearchSpace('toy-1d').space;
  });
  after(cleanup);

  it('s2d grows the 1-neuron minimum to 2 neurons and retraining reaches loss < 1e-6', async () => {
    const summary = await grow(
      { space, grower: 's2d', growerOptions: { selection: 'top-k', k: 1 }, rounds: 1, out: `${dir}/s2d`, seed: 0, quiet: true, initial: { spec: space.seed, weights: localMinimum } },
      await workspaceServices(),
    );
    assert.equal(summary.widths['hidden'], 2);
    assert.ok(summary.final.trainLoss < 1e-6, `loss ${summary.final.trainLoss}`);
  });

  // Three seeds each keep the two claims (the s2d escape does not depend on the seed; a fresh random neuron at
  // the same place does not escape) at 6 runs instead of 60: random-split, which escapes as s2d does and fed only
  // a diagnostic, is no longer run.
  it('over 3 seeds, s2d always escapes and ends below a fresh random neuron', async (t) => {
    const services = await workspaceServices();
    const fast = { ...space, fineTune: { ...space.fineTune, epochs: 1500 } };
    const seeds = [0, 1, 2];
    const outcome: Record<string, number[]> = { s2d: [], 'random-neuron': [] };
    for (const grower of Object.keys(outcome)) {
      for (const seed of seeds) {
        const s = await grow(
          { space: fast, grower, growerOptions: { selection: 'top-k', k: 1 }, rounds: 1, out: `${dir}/${grower}-${seed}`, seed, quiet: true, initial: { spec: space.seed, weights: localMinimum } },
          services,
        );
        assert.equal(s.widths['hidden'], 2, `${grower} seed ${seed}`);
        outcome[grower]!.push(s.final.trainLoss);
      }
    }
    const solved = (g: string): number => outcome[g]!.filter((l) => l < 1e-6).length;
    const median = (g: string): number => [...outcome[g]!].sort((a, b) => a - b)[1]!;
    for (const g of Object.keys(outcome)) t.diagnostic(`${g}: ${solved(g)}/${seeds.length} seeds below 1e-6, median final loss ${median(g).toExponential(2)}`);
    assert.equal(solved('s2d'), seeds.length);
    assert.ok(solved('s2d') > solved('random-neuron'), 'a fresh random neuron escaped as often as s2d: the minimum is not a test of splitting');
    assert.ok(median('s2d') < median('random-neuron'));
  });
});
