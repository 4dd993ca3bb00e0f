import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tinyMobileNetSpec } from '@mitosis/ir';
import { canonicalKey } from '../ops/op-key.js';
import { blocksFromSpec, groupBlocks } from '../ops/blocks.js';
import { tinyProfile } from '../test-support/tiny-profile.js';
import { mobileNetV2Spec } from '../zoo/mobilenets.js';
import { EnergyCostModel, LatencyCostModel, MacsCostModel } from './cost-models.js';
import { priceNetwork } from './price-network.js';

describe('device cost models', () => {
  const spec = tinyMobileNetSpec();
  const keys = blocksFromSpec(spec).map((b) => canonicalKey(b.op));
  const table = Object.fromEntries(keys.map((k, i) => [k, { mean: 0.1 * (i + 1) }]));

  it('sums table entries along the spec, one row per fused layer, source lut', () => {
    const est = new LatencyCostModel({ profile: { ...tinyProfile(), table } }).estimate(spec);
    assert.equal(est.unit, 'ms');
    assert.equal(est.layers.length, keys.length);
    assert.ok(est.layers.every((l) => l.source === 'lut'));
    const expected = keys.reduce((s, _k, i) => s + 0.1 * (i + 1), 0);
    assert.ok(Math.abs(est.total! - expected) < 1e-12);
    assert.equal(est.device, 'tiny-cpu');
  });

  it('prices a missing key with the fallback (predicted), never throwing', () => {
    const partial = Object.fromEntries(Object.entries(table).slice(1));
    const est = new LatencyCostModel({ profile: { ...tinyProfile(), table: partial } }).estimate(spec);
    assert.equal(est.layers[0]!.source, 'predicted');
    assert.ok(est.total !== null && est.layers[0]!.value! >= 0);
  });

  it('returns null (not an invented number) when the profile has no fallback', () => {
    const { fallback: _drop, ...noFallback } = tinyProfile();
    const est = new LatencyCostModel({ profile: { ...noFallback, table: {} } }).estimate(spec);
    assert.equal(est.total, null);
    assert.ok(est.layers.every((l) => l.value === null));
  });

  it('prices energy with an energy model over latencyMs (mJ = W × ms)', () => {
    const profile = {
      ...tinyProfile(),
      table,
      units: { latency: 'ms' as const, energy: 'mJ' as const },
      energy: { model: { expression: 'watts * latencyMs', coefficients: { watts: 2 } } },
    };
    const lat = new LatencyCostModel({ profile }).estimate(spec);
    const en = new EnergyCostModel({ profile }).estimate(spec);
    assert.equal(en.unit, 'mJ');
    assert.ok(Math.abs(en.total! - 2 * lat.total!) < 1e-12);
  });

  it('converts a profile in microseconds to ms', () => {
    const us = Object.fromEntries(keys.map((k) => [k, { mean: 1000 }]));
    const est = new LatencyCostModel({ profile: { ...tinyProfile(), units: { latency: 'us' }, table: us } }).estimate(spec);
    assert.ok(Math.abs(est.total! - keys.length) < 1e-9);
  });

  it('groups MobileNetV2 inverted residuals into mbconv blocks with residual flags', () => {
    const spec2 = mobileNetV2Spec();
    const grouped = groupBlocks(spec2, blocksFromSpec(spec2));
    const mb = grouped.filter((b) => b.op.kind === 'mbconv');
    assert.equal(mb.length, 17);
    assert.equal(mb.filter((b) => b.op.attrs['skip'] === 1).length, 10);
    assert.equal(grouped.filter((b) => b.op.kind === 'classifier').length, 1);
    const macs = grouped.reduce((s, b) => s + b.macs, 0);
    assert.equal(macs, new MacsCostModel().estimate(spec2).total);
  });

  it('prices MobileNetV2 on pixel1-cpu: table hits where the ProxylessNAS table lists the block, predicted elsewhere', () => {
    const priced = priceNetwork({ model: mobileNetV2Spec(), profile: 'pixel1-cpu' });
    assert.ok(priced.latencyMs !== null && priced.latencyMs > 10);
    // The ProxylessNAS table covers its own space (stage widths 24/40/80/96/192/320 in the searched nets),
    // so MobileNetV2's first conv, early blocks, 96-wide blocks and head hit; the other blocks are predicted.
    const sources = priced.layers.map((l) => l.latencySource);
    assert.equal(sources.filter((s) => s === 'lut').length, 8);
    assert.equal(sources.filter((s) => s === 'predicted').length, 12);
    assert.equal(priced.layers[0]!.key, 'conv2d-input:224x224x3-output:112x112x32-kernel:3-stride:2');
  });

  it('prices on the estimated VPU and DSP profiles, flagged estimated', () => {
    for (const profile of ['myriad-vpu', 'hexagon-dsp']) {
      const est = new LatencyCostModel({ profile }).estimate(mobileNetV2Spec());
      assert.ok(est.total !== null && est.total > 1);
      assert.ok(est.layers.every((l) => l.source === 'estimated'));
    }
  });
});
