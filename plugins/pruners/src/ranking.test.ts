import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { fakeMethodContext } from './testing/fake-method-context.js';
import { channelScores, divideByL2, divideByMean, rankGlobally, rankUniformly, summarise } from './ranking.js';

const f64 = (xs: readonly number[]): Float64Array => Float64Array.from(xs);

describe('ranking helpers', () => {
  it('summarises a layer: median of an odd count is the middle value, of an even count the mean of the middle two', () => {
    assert.deepEqual(summarise([3, 1, 2]), { min: 1, median: 2, max: 3 });
    assert.deepEqual(summarise([4, 1, 10, 2]), { min: 1, median: 3, max: 10 });
    assert.equal(summarise([]), null);
  });

  it('divides by the layer mean or the layer L2 norm, and leaves an all-zero layer at zero', () => {
    assert.deepEqual(divideByMean(f64([1, 2, 3])), { values: f64([0.5, 1, 1.5]), scale: 2 });
    assert.deepEqual(divideByL2(f64([3, 4])), { values: f64([0.6, 0.8]), scale: 5 });
    assert.deepEqual(divideByMean(f64([0, 0])), { values: f64([0, 0]), scale: 0 });
    assert.deepEqual(divideByL2(f64([0, 0])), { values: f64([0, 0]), scale: 0 });
  });

  it('ranks globally by score, ties by layer order then channel', () => {
    const ranked = rankGlobally([f64([2, 1, 1]), f64([1, 0])]);
    assert.deepEqual(
      ranked.map((s) => [s.layer, s.channel]),
      [[1, 1], [0, 1], [0, 2], [1, 0], [0, 0]],
    );
  });

  it('uniform order: every prefix removes the same share of every layer, to within one channel', () => {
    const random = new SeededRandom(7);
    const widths = [3, 8, 5, 16, 1];
    const layers = widths.map((w) => f64(Array.from({ length: w }, () => random.next())));
    const ranked = rankUniformly(layers);
    assert.equal(ranked.length, widths.reduce((a, b) => a + b, 0));
    const removed = widths.map(() => 0);
    for (const [k, s] of ranked.entries()) {
      removed[s.layer]! += 1;
      const share = s.score;
      // The entry just removed set its layer's share to exactly its score; every other layer is within one
      // channel of it: its share ≤ that score, and one more channel would take it to at least that score.
      assert.equal(removed[s.layer]! / widths[s.layer]!, share, `entry ${k}`);
      widths.forEach((w, l) => {
        assert.ok(removed[l]! / w <= share + 1e-15, `layer ${l} ahead at entry ${k}`);
        assert.ok((removed[l]! + 1) / w >= share - 1e-15, `layer ${l} behind at entry ${k}`);
      });
    }
  });

  it('uniform order removes the lowest scores of each layer first', () => {
    const ranked = rankUniformly([f64([0.4, 0.1, 0.3, 0.2]), f64([5, 1])]);
    assert.deepEqual(
      ranked.map((s) => [s.layer, s.channel, s.score]),
      [[0, 1, 0.25], [0, 3, 0.5], [1, 1, 0.5], [0, 2, 0.75], [0, 0, 1], [1, 0, 1]],
    );
  });

  it('refuses scores that the pruner declared but the context lacks, that do not line up, or that are not finite', () => {
    const ok = fakeMethodContext([{ node: 'a', weightNorm: [1, 2] }]);
    assert.equal(channelScores(ok, 'weightNorm', 'p').length, 1);
    assert.throws(() => channelScores(ok, 'taylor', 'p'), (e) => NasError.is(e, 'E_RUN_FAILED') && /taylor/.test(e.message));
    const short = fakeMethodContext([{ node: 'a', width: 3, weightNorm: [1, 2] }]);
    assert.throws(
      () => channelScores(short, 'weightNorm', 'p'),
      (e) => NasError.is(e, 'E_SHAPE_MISMATCH') && e.details['node'] === 'a' && e.details['width'] === 3,
    );
    const bad = fakeMethodContext([{ node: 'a', weightNorm: [1, Number.NaN] }]);
    assert.throws(() => channelScores(bad, 'weightNorm', 'p'), (e) => NasError.is(e, 'E_NUMERICAL') && e.details['channel'] === 1);
    const negative = fakeMethodContext([{ node: 'a', weightNorm: [-1, 1] }]);
    assert.throws(() => channelScores(negative, 'weightNorm', 'p'), (e) => NasError.is(e, 'E_NUMERICAL'));
    const missingLayer = { ...ok, layers: [...ok.layers, { ...ok.layers[0]!, node: 'b' }] };
    assert.throws(() => channelScores(missingLayer, 'weightNorm', 'p'), (e) => NasError.is(e, 'E_SHAPE_MISMATCH'));
  });
});
