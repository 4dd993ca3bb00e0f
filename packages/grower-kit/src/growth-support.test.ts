import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom, type EigenResult } from '@mitosis/core';
import { fakeContext, fakeEigenResults, fakeNetworkSpec, type FakeLayer } from './testing/fake-context.js';
import {
  lambdaMinSummary,
  layerRoom,
  layerStats,
  randomUnitVector,
  selectCandidates,
  splittingCandidates,
  splittingScores,
  summarise,
  symmetricSplit,
  type Candidate,
} from './growth-support.js';

describe('layerRoom', () => {
  it('is cap − width, Infinity without a cap', () => {
    const ctx = fakeContext([
      { node: 'a', lambdaMin: [-1, -2], cap: 5 },
      { node: 'b', lambdaMin: [-1], cap: null },
    ]);
    assert.deepEqual(layerRoom(ctx), [3, Infinity]);
  });

  it('is 0 for a layer that is not splittable, whatever its cap', () => {
    const ctx = fakeContext([
      { node: 'a', lambdaMin: [-1, -2], cap: 5 },
      { node: 'proj', lambdaMin: [-1, -1, -1], cap: 1, splittable: false },
    ]);
    assert.deepEqual(layerRoom(ctx), [3, 0]);
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

describe('splittingScores', () => {
  const layers: FakeLayer[] = [
    { node: 'fc1', lambdaMin: [-1, 0.5] },
    { node: 'proj', lambdaMin: [0, 0, 0], splittable: false },
    { node: 'fc2', lambdaMin: [-2], dim: 3 },
  ];

  it('returns the context’s eigenpairs when they line up with the layers, placeholders included', () => {
    const ctx = fakeContext(layers);
    const results = splittingScores(ctx, 'g');
    assert.equal(results, ctx.scores.splitting);
    assert.deepEqual(results.map((r) => [r.block, r.neurons, r.dim]), [['fc1', 2, 2], ['proj', 3, 0], ['fc2', 1, 3]]);
    assert.deepEqual(Array.from(results[1]!.lambdaMin), [Infinity, Infinity, Infinity]);
  });

  it('is E_RUN_FAILED, naming the grower, when the context has no splitting scores', () => {
    const ctx = fakeContext(layers, { scores: {} });
    assert.throws(
      () => splittingScores(ctx, 'my-grower'),
      (e) => NasError.is(e, 'E_RUN_FAILED') && /my-grower/.test(e.message) && e.details['grower'] === 'my-grower',
    );
  });

  it('is E_SHAPE_MISMATCH for a missing block, another node, another width or short arrays, naming the layer', () => {
    const good = fakeEigenResults(layers);
    const cases: [string, EigenResult[]][] = [
      ['count', good.slice(0, 2)],
      ['node', [good[0]!, { ...good[1]!, block: 'other' }, good[2]!]],
      ['width', [good[0]!, good[1]!, fakeEigenResults([{ node: 'fc2', lambdaMin: [-2, -1], dim: 3 }])[0]!]],
      ['lambda', [{ ...good[0]!, lambdaMax: new Float64Array(1) }, good[1]!, good[2]!]],
      ['vectors', [good[0]!, good[1]!, { ...good[2]!, vMin: new Float64Array(2) }]],
      ['dim 0 on a splittable layer', [{ ...good[0]!, dim: 0, vMin: new Float64Array(0), vMax: new Float64Array(0) }, good[1]!, good[2]!]],
    ];
    for (const [what, splitting] of cases) {
      const ctx = fakeContext(layers, { scores: { splitting } });
      assert.throws(
        () => splittingScores(ctx, 'g'),
        (e) => NasError.is(e, 'E_SHAPE_MISMATCH') && (what === 'count' || /fc1|proj|fc2/.test(String(e.details['node']))),
        what,
      );
    }
  });
});

describe('splitting candidates, summaries and the symmetric split', () => {
  const layers: FakeLayer[] = [
    { node: 'fc1', lambdaMin: [-1, 0.5], cap: 4 },
    { node: 'proj', lambdaMin: [0, 0], splittable: false },
    { node: 'fc2', lambdaMin: [-2] },
  ];

  it('offers no candidate of a layer that is not splittable, so +∞ placeholders never reach the quantile', () => {
    const ctx = fakeContext(layers);
    const results = splittingScores(ctx, 'g');
    const candidates = splittingCandidates(ctx, results);
    assert.deepEqual(candidates.map((c) => [c.layer, c.neuron, c.score]), [[0, 0, -1], [0, 1, 0.5], [2, 0, -2]]);
    const s = selectCandidates(candidates, { selection: 'quantile', fraction: 0.5 }, layerRoom(ctx), true);
    assert.equal(s.threshold, -1);
    assert.deepEqual(s.chosen.map((c) => [c.layer, c.neuron]), [[2, 0]]);
  });

  it('leaves placeholder λ out of the λ_min summaries', () => {
    const ctx = fakeContext(layers);
    const results = splittingScores(ctx, 'g');
    assert.deepEqual(lambdaMinSummary(results, ctx.layers), { count: 3, min: -2, median: -1, max: 0.5, negative: 2 });
    assert.equal(lambdaMinSummary(results).max, Infinity);
    const stats = layerStats(ctx, [{ layer: 0, neuron: 0, score: -1, added: 1 }], results);
    assert.deepEqual(stats.map((l) => [l.node, l.grown, l.lambdaMin?.count ?? null]), [['fc1', 1, 2], ['proj', 0, null], ['fc2', 0, 1]]);
  });

  it('splits θ ± εv with weights ½, ½ and predicts ε²/2·score', () => {
    const e = symmetricSplit('fc1', 3, [0.6, 0.8], 0.5, -4, 2.5);
    assert.deepEqual(e, {
      node: 'fc1',
      neuron: 3,
      offspring: [{ weight: 0.5, direction: [0.6, 0.8] }, { weight: 0.5, direction: [-0.6, -0.8] }],
      scheme: 's2d',
      score: -4,
      predictedDeltaLoss: -0.5, // ε²/2·score = 0.125 · −4
      cost: 2.5,
    });
    assert.equal(symmetricSplit('fc1', 0, [1], 0.1, 0, null, 'random-direction').scheme, 'random-direction');
  });
});

describe('fakeNetworkSpec', () => {
  it('chains dense layers of the fake widths, with adapters where the θ length needs another input size', () => {
    const spec = fakeNetworkSpec([
      { node: 'fc1', lambdaMin: [0, 0, 0], dim: 4 },
      { node: 'fc2', lambdaMin: [0, 0], dim: 4 },
      { node: 'fc3', lambdaMin: [0], dim: 7, splittable: false },
    ]);
    const dense = spec.nodes.filter((n) => n.op === 'dense').map((n) => [n.name, n.inputs[0], n.units, n.useBias]);
    assert.deepEqual(dense, [
      ['fc1', '__input', 3, true],
      ['fc2', 'fc1__act', 2, true],
      ['fc3__in', 'fc2__act', 6, false],
      ['fc3', 'fc3__in', 1, true],
    ]);
    assert.deepEqual(spec.nodes[0], { name: '__input', op: 'input', shape: [3] });
    assert.equal(spec.output, 'fc3');
  });
});
