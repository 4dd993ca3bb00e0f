import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SeededRandom } from '@mitosis/core';
import { tf, useBackend } from '@mitosis/engine';
import { tinyMobileNetSpec } from '@mitosis/ir';
import { LatencyCostModel } from '../cost/cost-models.js';
import { blocksFromSpec } from '../ops/blocks.js';
import { canonicalKey, parseCanonicalKey } from '../ops/op-key.js';
import { validateProfile } from '../profile/load-profile.js';
import { runProfiler, specForOp, timeSpecs } from './profiler.js';
import { sampleSmallSpace } from './small-space.js';
import { kendallTau, medianAbsPctError } from './validate-local.js';

describe('profiler', () => {
  before(async () => {
    await useBackend('wasm');
  });

  it('realises layer keys as one-op networks with the key shapes', () => {
    for (const key of [
      'conv2d-input:16x16x8-output:8x8x12-kernel:3-stride:2',
      'dwconv2d-input:9x9x4-output:5x5x4-kernel:5-stride:2',
      'dense-input:32-output:10',
      'gap-input:4x4x8-output:8',
      'add-input:4x4x8-inputs:2',
    ]) {
      const spec = specForOp(parseCanonicalKey(key));
      assert.equal(spec.name, key);
    }
  });

  it('measures every row key of the given architectures, fits a fallback and leaks no tensors', async () => {
    const space = [tinyMobileNetSpec()];
    const before = tf.memory().numTensors;
    const profile = await runProfiler({ deviceId: 'test-local', space, warmup: 1, repeats: 3, ops: ['dense-input:8-output:3'] });
    assert.equal(tf.memory().numTensors, before);
    validateProfile(profile, 'test');
    const keys = blocksFromSpec(space[0]!).map((b) => canonicalKey(b.op));
    for (const key of [...keys, 'dense-input:8-output:3']) {
      const entry = profile.table[key];
      assert.ok(entry !== undefined && entry.mean >= 0 && entry.count! >= 3, key);
    }
    assert.equal(profile.measurement.statistic, 'median');
    assert.equal(profile.measurement.repeats, 3);
    assert.ok(profile.fallback && Number.isFinite(profile.fallback.coefficients['c1']));
    const est = new LatencyCostModel({ profile }).estimate(space[0]!);
    assert.ok(est.total !== null && est.layers.every((l) => l.source === 'lut'));
  });

  it('times several networks round robin, without leaks', () => {
    const rng = new SeededRandom(5);
    const before = tf.memory().numTensors;
    const t = timeSpecs([sampleSmallSpace(rng), sampleSmallSpace(rng)], 1, 2);
    assert.equal(t.length, 2);
    assert.ok(t.every((x) => x.count === 2 && x.median > 0));
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('local-profile statistics', () => {
  it('computes Kendall τ-b and the median absolute % error', () => {
    assert.equal(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
    assert.equal(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    // One discordant pair out of six: (5 − 1) / 6.
    assert.ok(Math.abs(kendallTau([1, 2, 3, 4], [1, 3, 2, 4]) - 4 / 6) < 1e-12);
    assert.equal(medianAbsPctError([10, 10, 10], [11, 9, 15]), 10);
  });

  it('the shipped local profile prices small-space nets from its table and new widths by its fallback', () => {
    const model = new LatencyCostModel({ profile: 'local' });
    const est = model.estimate(sampleSmallSpace(new SeededRandom(99)));
    assert.ok(est.total !== null && est.total > 0);
    const wide = model.estimate(tinyMobileNetSpec());
    assert.ok(wide.total !== null && wide.layers.some((l) => l.source === 'predicted'));
  });
});
