import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { fakeContext } from './testing/fake-context.js';
import { layerRoom, randomUnitVector, selectCandidates, summarise, type Candidate } from './growth-support.js';

describe('layerRoom', () => {
  it('is cap − width, Infinity without a cap', () => {
    const ctx = fakeContext([
      { node: 'a', lambdaMin: [-1, -2], cap: 5 },
      { node: 'b', lambdaMin: [-1], cap: null },
    ]);
    assert.deepEqual(layerRoom(ctx), [3, Infinity]);
  });

  it('names the node when a cap is below the width', () => {
    const ctx = fakeContext([{ node: 'conv3', lambdaMin: [-1, -2, -3], cap: 2 }]);
    assert.throws(
      () => layerRoom(ctx),
      (e) => NasError.is(e, 'E_CONFIG_INVALID') && /conv3/.test(e.message) && e.details['cap'] === 2,
    );
  });
});

describe('selectCandidates', () => {
  const lambdas = [0.3, -0.2, -1.5, 0.1, -0.05, -0.9, 0, -0.4, 0.2, -0.6];
  const candidates: Candidate[] = lambdas.map((score, i) => ({ layer: i < 5 ? 0 : 1, neuron: i % 5, score, added: 1 }));

  it('uses the strict global quantile and orders the result by layer, then neuron', () => {
    const s = selectCandidates(candidates, { selection: 'quantile', fraction: 0.3 }, [Infinity, Infinity], true);
    assert.equal(s.threshold, -0.4);
    assert.deepEqual(s.chosen.map((c) => [c.layer, c.neuron]), [[0, 2], [1, 0], [1, 4]]);
  });

  it('respects the room of each layer, most negative first', () => {
    const s = selectCandidates(candidates, { selection: 'quantile', fraction: 0.3 }, [Infinity, 1], true);
    assert.deepEqual(s.chosen.map((c) => [c.layer, c.neuron]), [[0, 2], [1, 0]]);
    assert.equal(s.droppedByCap, 1);
  });

  it('top-k takes the k best negative scores', () => {
    const s = selectCandidates(candidates, { selection: 'top-k', k: 2 }, [Infinity, Infinity], true);
    assert.deepEqual(s.chosen.map((c) => c.score), [-1.5, -0.9]);
    const all = selectCandidates(candidates, { selection: 'top-k', k: 100 }, [Infinity, Infinity], true);
    assert.equal(all.chosen.length, 6);
    assert.ok(all.chosen.every((c) => c.score < 0));
  });
});

describe('summarise and randomUnitVector', () => {
  it('summarises λ for the run log', () => {
    assert.deepEqual(summarise([3, -1, 2, -4]), { count: 4, min: -4, median: 0.5, max: 3, negative: 2 });
    assert.deepEqual(summarise([]), { count: 0, min: null, median: null, max: null, negative: 0 });
  });

  it('draws unit vectors reproducibly from the seeded source', () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const va = randomUnitVector(5, () => a.next());
    const vb = randomUnitVector(5, () => b.next());
    assert.deepEqual(va, vb);
    assert.ok(Math.abs(Math.hypot(...va) - 1) < 1e-12);
  });
});
