import { NasError, type MethodLayer } from '@mitosis/core';

/**
 * The single-α family of networks a width multiplier can reach: every layer's width as a step function of α,
 * the α's where some layer's width may change, and one representative α per step, so that a search over α can
 * visit every distinct member of the family exactly.
 */

/** The fields of a layer that its scaled width depends on. */
export type ScalableLayer = Pick<MethodLayer, 'node' | 'width' | 'min' | 'cap'>;

/**
 * MobileNet's `make_divisible` (used by the MobileNetV2/V3 and EfficientNet code bases): `value` rounded to the
 * nearest multiple of `divisor`, at least `divisor`, and moved up one multiple when rounding down would lose
 * more than 10 % of `value`. Examples: (11.2, 8) → 16, (18, 8) → 24, (24, 8) → 24, (5.6, 8) → 8.
 */
export function makeDivisible(value: number, divisor: number): number {
  const rounded = Math.max(divisor, Math.floor(value / divisor + 0.5) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

/**
 * Width of `layer` at multiplier `alpha`: round(α·width) (half up) for `divisor` 1, else
 * {@link makeDivisible}(α·width, divisor); then at most the layer's cap (when it has one) and at least its
 * minimum width and 1.
 */
export function scaledWidth(layer: ScalableLayer, alpha: number, divisor: number): number {
  const raw = alpha * layer.width;
  let width = divisor === 1 ? Math.round(raw) : makeDivisible(raw, divisor);
  if (layer.cap !== null) width = Math.min(layer.cap, width);
  return Math.max(layer.min, 1, width);
}

/** Every layer's {@link scaledWidth} at `alpha`, by node. */
export function widthsAt(layers: readonly ScalableLayer[], alpha: number, divisor: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const layer of layers) out[layer.node] = scaledWidth(layer, alpha, divisor);
  return out;
}

/** Most step edges {@link familyAlphas} will enumerate before refusing (about 16 MB of doubles). */
export const MAX_FAMILY_STEPS = 2_000_000;

/**
 * The α's strictly inside (lo, hi) at which {@link scaledWidth} of `layer` may change (a superset: the cap and
 * minimum clamps only remove steps): α·width = k + ½ for `divisor` 1; α·width = (k − ½)·divisor, and
 * α·width = k·divisor / 0.9 for k ≤ 4 (where make_divisible's 10 % rule can bite), otherwise.
 */
function layerEdges(layer: ScalableLayer, divisor: number, lo: number, hi: number, out: number[]): void {
  const w = layer.width;
  if (w <= 0) return;
  const push = (alpha: number): void => {
    if (alpha > lo && alpha < hi) out.push(alpha);
  };
  if (divisor === 1) {
    for (let k = Math.max(0, Math.floor(lo * w - 0.5)); k + 0.5 <= hi * w + 1; k++) push((k + 0.5) / w);
  } else {
    for (let k = Math.max(1, Math.floor((lo * w) / divisor + 0.5)); (k - 0.5) * divisor <= hi * w + divisor; k++) {
      push(((k - 0.5) * divisor) / w);
    }
    for (let k = 1; k <= 4; k++) push((k * divisor) / (0.9 * w));
  }
}

/**
 * One α per step of the family on [lo, hi], in increasing order: `lo`, the midpoint between each pair of
 * consecutive step edges, and `hi`. Since every layer's width is non-decreasing in α, the widths at these α's are
 * non-decreasing too, and every distinct width assignment that some α in [lo, hi] produces appears among them
 * (midpoints keep clear of the edges, where floating-point rounding could go either way). Throws
 * `E_CONFIG_INVALID` when the family has more than {@link MAX_FAMILY_STEPS} steps (narrow the α range).
 */
export function familyAlphas(layers: readonly ScalableLayer[], divisor: number, lo: number, hi: number): Float64Array {
  const estimate = layers.reduce((n, l) => n + Math.ceil(((hi - lo) * Math.max(0, l.width)) / divisor) + 6, 0);
  if (estimate > MAX_FAMILY_STEPS) {
    throw new NasError(
      'E_CONFIG_INVALID',
      `The width multiplier's α range [${lo}, ${hi}] spans about ${estimate} width steps over ${layers.length} layers ` +
        `(at most ${MAX_FAMILY_STEPS}); narrow [alphaMin, alphaMax] or raise the divisor`,
      { alphaMin: lo, alphaMax: hi, steps: estimate, limit: MAX_FAMILY_STEPS },
    );
  }
  const edges: number[] = [];
  for (const layer of layers) layerEdges(layer, divisor, lo, hi, edges);
  const sorted = Float64Array.from(edges).sort();
  const alphas: number[] = [lo];
  let previous = lo;
  for (const edge of sorted) {
    if (edge === previous) continue;
    alphas.push((previous + edge) / 2);
    previous = edge;
  }
  alphas.push((previous + hi) / 2, hi);
  return Float64Array.from(alphas);
}
