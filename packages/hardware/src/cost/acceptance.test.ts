import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blocksFromOfaNetConfig } from '../importers/ofa-net-config.js';
import { mobileNetV1Spec, mobileNetV2Spec } from '../zoo/mobilenets.js';
import { ofaFixture } from '../test-support/fixtures.js';
import { MacsCostModel, ParamsCostModel } from './cost-models.js';
import { priceNetwork } from './price-network.js';

const within = (actual: number, expected: number, rel: number): boolean => Math.abs(actual - expected) <= rel * expected;

describe('MACs and params (acceptance)', () => {
  const { subnets, synthetic_w12 } = ofaFixture();

  for (const [id, expected] of [
    ['flops-389M', 389.5e6],
    ['flops-482M', 482.4e6],
    ['flops-595M', 595.2e6],
  ] as const) {
    it(`OFA ${id} sub-net has ${expected / 1e6}M MACs within 0.1%`, () => {
      const net = subnets.find((s) => s.id.startsWith(id))!;
      const priced = priceNetwork({ model: net.net_config, resolution: net.image_size });
      assert.ok(within(priced.macs, expected, 1e-3), `${priced.macs}`);
      assert.equal(priced.latencyMs, null);
    });
  }

  it('reproduces the converter-derived MACs of every fixture sub-net exactly', () => {
    for (const net of subnets) {
      const macs = blocksFromOfaNetConfig(net.net_config, net.image_size).reduce((s, b) => s + b.macs, 0);
      assert.equal(macs, net.derived_macs, net.id);
    }
    assert.ok(synthetic_w12.length === 5);
  });

  it('MobileNetV1 1.0×/224 has 569M MACs ± 1% and 4,231,976 trainable parameters', () => {
    const spec = mobileNetV1Spec();
    const macs = new MacsCostModel().estimate(spec);
    assert.ok(within(macs.total!, 569e6, 0.01), `${macs.total}`);
    assert.ok(macs.layers.every((l) => l.source === 'counted'));
    assert.equal(new ParamsCostModel().estimate(spec).total, 4_231_976);
  });

  it('MobileNetV2 1.0×/224 has 300M MACs ± 1% and 3,504,872 parameters', () => {
    const spec = mobileNetV2Spec();
    assert.ok(within(new MacsCostModel().estimate(spec).total!, 300e6, 0.01));
    assert.equal(new ParamsCostModel().estimate(spec).total, 3_504_872);
  });
});

describe('note10-cpu latency (acceptance)', () => {
  const { subnets, synthetic_w12 } = ofaFixture();
  const table = [...subnets.filter((s) => s.note10_lut_sum_ms !== undefined), ...synthetic_w12];

  it('has nets at all five table resolutions to check', () => {
    assert.deepEqual([...new Set(table.map((n) => n.image_size))].sort(), [160, 176, 192, 208, 224]);
  });

  for (const net of table) {
    it(`${net.id} @${net.image_size} equals the sum of the table entries along the net`, () => {
      const priced = priceNetwork({ model: net.net_config, profile: 'note10-cpu', resolution: net.image_size });
      assert.ok(Math.abs(priced.latencyMs! - net.note10_lut_sum_ms!) < 1e-9, `${priced.latencyMs} vs ${net.note10_lut_sum_ms}`);
      assert.ok(priced.layers.every((l) => l.latencySource === 'lut'));
      assert.equal(priced.device, 'note10-cpu');
    });
  }

  it('prices sub-nets outside the table (w1.0 widths, 220/260 px) by the fallback, flagged predicted', () => {
    for (const net of subnets.filter((s) => s.device === 'note10' && s.note10_lut_sum_ms === undefined)) {
      const priced = priceNetwork({ model: net.net_config, profile: 'note10-cpu', resolution: net.image_size });
      assert.ok(priced.latencyMs !== null && priced.latencyMs > 0, net.id);
      assert.ok(priced.layers.some((l) => l.latencySource === 'predicted'), net.id);
      // note10-cpu has no measured energy: its energy is the documented power × latency estimate, flagged so.
      assert.ok(priced.energyMj !== null && Math.abs(priced.energyMj - 2 * priced.latencyMs) < 1e-9 * priced.latencyMs, net.id);
      assert.ok(priced.layers.every((l) => l.energySource === 'estimated'), net.id);
    }
  });
});
