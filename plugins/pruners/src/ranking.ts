import { NasError, type ChannelRemoval, type MethodContext, type MethodLayer } from '@mitosis/core';

/**
 * What the three pruners share: reading the scores the loop computed and checking them against the layers,
 * per-layer normalisations, the two orderings (one global ranking; equal shares of every layer) and the
 * per-layer summaries written to the run log. A pruner only ranks; the loop's plan policy decides how long a
 * prefix of the ranking to remove.
 */

/** The per-channel score kinds a pruner of this package reads as one array per layer. */
export type ChannelScoreKind = 'weightNorm' | 'taylor' | 'gradientNorm';

/** One channel and the value it is ranked by; `layer` indexes `context.layers`. */
export interface ScoredChannel {
  readonly layer: number;
  readonly channel: number;
  readonly score: number;
}

/** min / median / max of a layer's scores (the median of an even count is the mean of the middle two). */
export interface ScoreSummary {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

function checkValues(values: Float64Array, layer: MethodLayer, kind: string, prunerId: string): void {
  if (values.length !== layer.width) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Pruner "${prunerId}": the ${kind} scores of layer "${layer.node}" have ${values.length} values; the layer ` +
        `has ${layer.width} output channels`,
      { pruner: prunerId, kind, node: layer.node, values: values.length, width: layer.width },
    );
  }
  for (let c = 0; c < values.length; c++) {
    const v = values[c] as number;
    if (!Number.isFinite(v) || v < 0) {
      throw new NasError(
        'E_NUMERICAL',
        `Pruner "${prunerId}": the ${kind} score of channel ${c} of layer "${layer.node}" is ${v}; every ${kind} ` +
          `score must be finite and ≥ 0 (a diverged network, or a loop bug)`,
        { pruner: prunerId, kind, node: layer.node, channel: c, value: String(v) },
      );
    }
  }
}

function missing(kind: string, prunerId: string): NasError {
  return new NasError(
    'E_RUN_FAILED',
    `Internal: pruner "${prunerId}" declared the "${kind}" score but the context carries none (the loop did not ` +
      `honour the pruner's needs)`,
    { pruner: prunerId, kind },
  );
}

function checkCount(found: number, context: MethodContext, kind: string, prunerId: string): void {
  if (found !== context.layers.length) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Pruner "${prunerId}": ${found} layers of ${kind} scores for ${context.layers.length} layers`,
      { pruner: prunerId, kind, scores: found, layers: context.layers.length },
    );
  }
}

/**
 * The `kind` scores of the context, one array per layer, after checking that there is one per layer, one value
 * per output channel, each finite and ≥ 0. Throws `E_RUN_FAILED` when the kind is absent (the pruner's `needs`
 * were not honoured), `E_SHAPE_MISMATCH` naming the layer on a length mismatch and `E_NUMERICAL` naming the
 * channel on a non-finite or negative value.
 * @param prunerId named in the errors.
 */
export function channelScores(context: MethodContext, kind: ChannelScoreKind, prunerId: string): readonly Float64Array[] {
  const scores = context.scores[kind];
  if (scores === undefined) throw missing(kind, prunerId);
  checkCount(scores.length, context, kind, prunerId);
  scores.forEach((values, i) => checkValues(values, context.layers[i] as MethodLayer, kind, prunerId));
  return scores;
}

/**
 * The batch-norm scales |γ| of the context (`null` for a layer without batch norm), checked like
 * {@link channelScores}.
 */
export function batchNormScales(context: MethodContext, prunerId: string): readonly (Float64Array | null)[] {
  const scales = context.scores.bnScale;
  if (scales === undefined) throw missing('bnScale', prunerId);
  checkCount(scales.length, context, 'bnScale', prunerId);
  scales.forEach((values, i) => {
    if (values !== null) checkValues(values, context.layers[i] as MethodLayer, 'bnScale', prunerId);
  });
  return scales;
}

/**
 * `values` divided by their mean, and that mean. A layer whose values are all 0 stays all 0 (mean 0). Dividing
 * by the mean makes layers comparable whatever their fan-in or weight scale, and unlike the max it does not
 * let one outlying channel push the rest of its layer to the front of a global ranking.
 */
export function divideByMean(values: Float64Array): { values: Float64Array; scale: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = values.length === 0 ? 0 : sum / values.length;
  return { values: mean > 0 ? values.map((v) => v / mean) : new Float64Array(values.length), scale: mean };
}

/**
 * `values` divided by their Euclidean norm ‖values‖₂, and that norm (Molchanov et al.'s layer-wise ℓ2
 * normalisation). A layer whose values are all 0 stays all 0.
 */
export function divideByL2(values: Float64Array): { values: Float64Array; scale: number } {
  let sum = 0;
  for (const v of values) sum += v * v;
  const norm = Math.sqrt(sum);
  return { values: norm > 0 ? values.map((v) => v / norm) : new Float64Array(values.length), scale: norm };
}

/** Ascending by score, ties by layer order, then channel: the deterministic order of every ranking here. */
export function compareScored(a: ScoredChannel, b: ScoredChannel): number {
  return a.score - b.score || a.layer - b.layer || a.channel - b.channel;
}

/** Every channel of the given layers (`perLayer[i]` = scores of layer `layers[i]`), ranked by {@link compareScored}. */
export function rankGlobally(perLayer: readonly Float64Array[], layers: readonly number[] = perLayer.map((_, i) => i)): ScoredChannel[] {
  const out: ScoredChannel[] = [];
  layers.forEach((layer, i) => {
    const values = perLayer[i] as Float64Array;
    for (let channel = 0; channel < values.length; channel++) out.push({ layer, channel, score: values[channel] as number });
  });
  return out.sort(compareScored);
}

/**
 * Equal shares of every layer: within a layer, channels are ordered by ascending value (ties by channel); the
 * channel of within-layer rank r in a layer of width w gets the score (r + 1)/w, the share of its layer removed
 * once it goes, and all channels are ranked by that share (ties by layer order). Any prefix of the ranking
 * therefore removes the same share of every layer, to within one channel per layer.
 */
export function rankUniformly(perLayer: readonly Float64Array[]): ScoredChannel[] {
  const out: ScoredChannel[] = [];
  perLayer.forEach((values, layer) => {
    const order = Array.from(values.keys()).sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
    order.forEach((channel, rank) => out.push({ layer, channel, score: (rank + 1) / values.length }));
  });
  return out.sort(compareScored);
}

/** The plan entries of a ranking: node names from the context, order kept. */
export function removals(context: MethodContext, ranked: readonly ScoredChannel[]): ChannelRemoval[] {
  return ranked.map((s) => ({ node: (context.layers[s.layer] as MethodLayer).node, channel: s.channel, score: s.score }));
}

/** {@link ScoreSummary} of `values`; `null` for an empty layer. */
export function summarise(values: ArrayLike<number>): ScoreSummary | null {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return null;
  const median = n % 2 === 1 ? (sorted[(n - 1) / 2] as number) : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
  return { min: sorted[0] as number, median, max: sorted[n - 1] as number };
}

/** One row of a plan's `details.layers`: the layer, its raw scores' summary and the divisor applied to them. */
export interface LayerScoreDetails {
  readonly node: string;
  readonly width: number;
  readonly minWidth: number;
  /** Which score ranks the layer (`bnScale`, or `weightNorm` for slimming's fallback layers). */
  readonly score: string;
  /** Summary of the raw scores, before any normalisation. */
  readonly summary: ScoreSummary | null;
  /** What the raw scores were divided by (1 without normalisation). */
  readonly scale: number;
}

/** The `details.layers` rows of a plan. */
export function layerDetails(
  context: MethodContext,
  raw: readonly (Float64Array | null)[],
  scales: readonly number[],
  scoreOf: (layer: number) => string,
): LayerScoreDetails[] {
  return context.layers.map((layer, i) => ({
    node: layer.node,
    width: layer.width,
    minWidth: layer.min,
    score: scoreOf(i),
    summary: summarise(raw[i] ?? []),
    scale: scales[i] ?? 1,
  }));
}
