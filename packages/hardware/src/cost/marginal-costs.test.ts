import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { mobileNetV1Spec } from '../zoo/mobilenets.js';
import { LatencyCostModel, MacsCostModel } from './cost-models.js';
import { marginalCosts } from './marginal-costs.js';

/** The fast-splitting CIFAR-100 MobileNetV1 seed: widths 8,8,8,8,16,16,24×6,32,32 at 32 px, first stride 1. */
const seed = mobileNetV1Spec({ widths: [8, 8, 8, 8, 16, 16, 24, 24, 24, 24, 24, 24, 32, 32], resolution: 32, classes: 100, firstStride: 1 });

describe('marginalCosts', () => {
  it('reproduces the reference flops_inc oracle (algorithms.md §3.4) with formula "reference"', () => {
    const m = marginalCosts(new MacsCostModel(), seed, { formula: 'reference' });
    assert.deepEqual(m.map((r) => r.delta), [28672, 17664, 4608, 4416, 1152, 1616, 416, 544, 544, 544, 544, 532, 136, 264]);
    const sqrt = marginalCosts(new MacsCostModel(), seed, { formula: 'reference', transform: 'sqrt' });
    const expected = [169.328, 132.906, 67.882, 66.453, 33.941, 40.2, 20.396, 23.324, 23.324, 23.324, 23.324, 23.065, 11.662, 16.248];
    sqrt.forEach((r, i) => assert.ok(Math.abs(r.cost! - expected[i]!) < 1e-3, `${i}: ${r.cost}`));
  });

  it('is exact by re-pricing: Δ = own conv + next depthwise + next pointwise (or classifier)', () => {
    const m = marginalCosts(new MacsCostModel(), seed);
    assert.equal(m.length, 14);
    // Layer 1 (pointwise at 32×32, input 8): 8·32² + next dw 9·16² + next pw 8·16².
    assert.equal(m[1]!.delta, 8 * 1024 + 9 * 256 + 8 * 256);
    // Last conv (2×2, input 32): 32·4 + classifier 100.
    assert.equal(m[13]!.delta, 32 * 4 + 100);
    // Layer 0 (3×3 conv on RGB at 32×32): 27·1024 + dw 9·1024 + pw 8·1024.
    assert.equal(m[0]!.delta, 27 * 1024 + 9 * 1024 + 8 * 1024);
    assert.ok(m.every((r) => r.source === 'counted'));
    const logs = marginalCosts(new MacsCostModel(), seed, { transform: 'log', nodes: [m[0]!.node] });
    assert.ok(Math.abs(logs[0]!.cost! - Math.log(m[0]!.delta!)) < 1e-12);
  });

  it('prices latency deltas on a profile and keeps the fallback source', () => {
    const m = marginalCosts(new LatencyCostModel({ profile: 'myriad-vpu' }), seed);
    assert.ok(m.every((r) => r.delta !== null && r.delta > 0 && r.source === 'estimated'));
  });

  it('refuses the MACs-only reference formula for a latency model', () => {
    assert.throws(
      () => marginalCosts(new LatencyCostModel({ profile: 'myriad-vpu' }), seed, { formula: 'reference' }),
      (e: unknown) => NasError.is(e, 'E_UNIT_MISMATCH'),
    );
  });
});
