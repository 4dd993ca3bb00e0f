import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError, SeededRandom } from '@mitosis/core';
import { familyAlphas, makeDivisible, scaledWidth, widthsAt, type ScalableLayer } from './width-scaling.js';

const layer = (width: number, min = 1, cap: number | null = null): ScalableLayer => ({ node: 'l', width, min, cap });

describe('width scaling', () => {
  it("make-divisible reproduces MobileNet's rounding (nearest multiple, at least the divisor, never 10 % down)", () => {
    const cases: [number, number][] = [
      [24, 24], // 32 × 0.75
      [11.2, 16], // 32 × 0.35: 8 would lose 29 %
      [5.6, 8], // 16 × 0.35: at least the divisor
      [18, 24], // 24 × 0.75: 16 would lose 11 %
      [1792, 1792], // 1280 × 1.4
      [12, 16], // a tie rounds up
      [36, 40],
      [3.9, 8],
    ];
    for (const [value, expected] of cases) assert.equal(makeDivisible(value, 8), expected, `make_divisible(${value}, 8)`);
  });

  it('scales one layer: round half up, then the cap, then the minimum width (and at least 1)', () => {
    assert.equal(scaledWidth(layer(10), 0.25, 1), 3);
    assert.equal(scaledWidth(layer(10), 0.24, 1), 2);
    assert.equal(scaledWidth(layer(10, 4), 0.25, 1), 4);
    assert.equal(scaledWidth(layer(10, 1, 15), 2, 1), 15);
    assert.equal(scaledWidth(layer(10), 0.01, 1), 1);
    assert.equal(scaledWidth(layer(32), 0.35, 8), 16);
    assert.equal(scaledWidth(layer(32, 20), 0.35, 8), 20);
    assert.deepEqual(widthsAt([{ node: 'a', width: 4, min: 1, cap: null }, { node: 'b', width: 6, min: 1, cap: null }], 0.5, 1), { a: 2, b: 3 });
  });

  for (const divisor of [1, 8]) {
    it(`divisor ${divisor}: the step α's reach every width assignment of a fine α grid, in non-decreasing order`, () => {
      const random = new SeededRandom(divisor);
      const layers: ScalableLayer[] = Array.from({ length: 5 }, (_, i) => ({
        node: `l${i}`,
        width: 1 + Math.floor(random.next() * 60),
        min: 1 + Math.floor(random.next() * 4),
        cap: i === 2 ? 70 : null,
      }));
      const key = (w: Record<string, number>): string => layers.map((l) => w[l.node]).join(',');
      const alphas = familyAlphas(layers, divisor, 0.05, 4);
      assert.equal(alphas[0], 0.05);
      assert.equal(alphas[alphas.length - 1], 4);
      const reached = new Set<string>();
      let previous: Record<string, number> | null = null;
      for (const a of alphas) {
        const w = widthsAt(layers, a, divisor);
        if (previous !== null) for (const l of layers) assert.ok(w[l.node]! >= previous[l.node]!, `not monotone at α ${a}`);
        previous = w;
        reached.add(key(w));
      }
      for (let i = 0; i <= 200_000; i++) {
        const a = 0.05 + (i * (4 - 0.05)) / 200_000;
        const k = key(widthsAt(layers, a, divisor));
        assert.ok(reached.has(k), `α ${a} gives ${k}, which no step α gives`);
      }
    });
  }

  it('refuses an α range with too many steps to enumerate', () => {
    const huge: ScalableLayer[] = [{ node: 'a', width: 1_000_000, min: 1, cap: null }];
    assert.throws(() => familyAlphas(huge, 1, 0.05, 8), (e) => NasError.is(e, 'E_CONFIG_INVALID') && e.details['steps'] !== undefined);
  });
});
