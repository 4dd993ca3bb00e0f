import {
  NasError,
  type EigenResult,
  type MethodContext,
  type MethodLayer,
  type NeuronGrowth,
  type Offspring,
} from '@mitosis/core';
import { selectByQuantile } from './selection.js';

/**
 * Helpers every grower of this repository shares: reading the splitting scores the loop computed and checking
 * them against the layers, per-layer room under the caps, count rules with caps, the symmetric split, statistics
 * for the run log, random unit directions.
 */

/**
 * Neurons each layer may still add this round: `cap − width`, or `Infinity` without a cap; 0 for a layer that
 * is not splittable (`splittable: false`), which no grower of this repository grows. A cap below the current
 * width of a splittable layer is an `E_CONFIG_INVALID` naming the node (the reference code would silently grow
 * nothing).
 */
export function layerRoom(context: MethodContext): number[] {
  return context.layers.map((layer) => {
    if (!Number.isInteger(layer.width) || layer.width < 0) {
      throw new NasError('E_SHAPE_MISMATCH', `Growable layer "${layer.node}" has an invalid width ${layer.width}`, {
        node: layer.node,
        width: layer.width,
      });
    }
    if (!layer.splittable) return 0;
    if (layer.cap === null) return Number.POSITIVE_INFINITY;
    if (!Number.isInteger(layer.cap) || layer.cap < layer.width) {
      throw new NasError(
        'E_CONFIG_INVALID',
        `Layer "${layer.node}" has width ${layer.width} but its cap is ${layer.cap}; a cap must be an integer ≥ the ` +
          `current width (raise the cap in the search space or start from a narrower seed)`,
        { node: layer.node, width: layer.width, cap: layer.cap },
      );
    }
    return layer.cap - layer.width;
  });
}

/**
 * The splitting eigenpairs the loop computed for a grower that declared a `splitting` need
 * (`context.scores.splitting`), after checking that they line up with `context.layers`: one result per layer, in
 * order, `block` = the layer's node, `neurons` = its width, λ arrays of `neurons` values, vectors of
 * `neurons × dim` values, and `dim` ≥ 1 for a splittable layer. A layer that is not splittable carries a
 * placeholder (λ_min = +∞, λ_max = −∞, `dim` 0) that growers must skip.
 *
 * Throws `E_RUN_FAILED` when the context has no splitting scores (the grower's `needs` were not honoured) and
 * `E_SHAPE_MISMATCH`, naming the layer, when a result does not line up.
 * @param growerId named in the errors.
 */
export function splittingScores(context: MethodContext, growerId: string): readonly EigenResult[] {
  const results = context.scores.splitting;
  if (results === undefined) {
    throw new NasError(
      'E_RUN_FAILED',
      `Grower "${growerId}" needs splitting scores, but the context of round ${context.round} has none; the loop ` +
        `must compute every score a method declares in its needs`,
      { grower: growerId, round: context.round, scores: Object.keys(context.scores) },
    );
  }
  if (results.length !== context.layers.length) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Grower "${growerId}": the splitting scores have ${results.length} blocks but the context lists ` +
        `${context.layers.length} layers`,
      { grower: growerId, blocks: results.map((r) => r.block), layers: context.layers.map((l) => l.node) },
    );
  }
  results.forEach((r, b) => {
    const layer = context.layers[b]!;
    const n = r.neurons;
    const dimOk = Number.isInteger(r.dim) && (layer.splittable ? r.dim >= 1 : r.dim >= 0);
    const ok =
      r.block === layer.node &&
      n === layer.width &&
      dimOk &&
      r.lambdaMin.length === n &&
      r.lambdaMax.length === n &&
      r.vMin.length === n * r.dim &&
      r.vMax.length === n * r.dim;
    if (!ok) {
      throw new NasError(
        'E_SHAPE_MISMATCH',
        `Grower "${growerId}": splitting block ${b} is "${r.block}" (${n} neurons, dim ${r.dim}, ` +
          `${r.lambdaMin.length} λ_min, ${r.vMin.length} v_min values) where layer "${layer.node}" ` +
          `(${layer.width} neurons${layer.splittable ? '' : ', not splittable'}) was expected`,
        {
          grower: growerId,
          block: r.block,
          node: layer.node,
          neurons: n,
          width: layer.width,
          dim: r.dim,
          splittable: layer.splittable,
        },
      );
    }
  });
  return results;
}

/** One candidate per neuron of every splittable layer, scored by its λ_min (S2D's splitting index). */
export function splittingCandidates(context: MethodContext, results: readonly EigenResult[]): Candidate[] {
  const candidates: Candidate[] = [];
  results.forEach((r, layer) => {
    if (context.layers[layer]?.splittable !== true) return;
    for (let neuron = 0; neuron < r.neurons; neuron++) {
      candidates.push({ layer, neuron, score: r.lambdaMin[neuron]!, added: 1 });
    }
  });
  return candidates;
}

/**
 * The symmetric split's offspring (algorithms.md §2): θ + εv keeps the parent's slot, θ − εv is appended, both
 * with the parent's outgoing weights × ½ (Σw = 1, no mean shift).
 */
export function symmetricOffspring(v: readonly number[]): Offspring[] {
  return [
    { weight: 0.5, direction: [...v] },
    { weight: 0.5, direction: v.map((x) => -x) },
  ];
}

/**
 * One neuron's symmetric split θ ± εv ({@link symmetricOffspring}) as a plan entry, with the second-order
 * prediction ΔL = ε²/2 · `score` (exact for `score` = vᵀSv, e.g. λ_min with v = v_min; algorithms.md §2.4).
 * @param v the direction, expected to be a unit vector (see {@link unitRow}).
 * @param cost added cost in the cost model's unit (the layer's marginal cost), `null` when unknown.
 */
export function symmetricSplit(
  node: string,
  neuron: number,
  v: readonly number[],
  epsilon: number,
  score: number,
  cost: number | null,
  scheme = 's2d',
): NeuronGrowth {
  return {
    node,
    neuron,
    offspring: symmetricOffspring(v),
    scheme,
    score,
    predictedDeltaLoss: ((epsilon * epsilon) / 2) * score,
    cost,
  };
}

/** Row `j` of a neuron-major `neurons × dim` matrix, as a plain array, scaled to unit length. */
export function unitRow(matrix: Float64Array, j: number, dim: number): number[] {
  const row = Array.from(matrix.subarray(j * dim, (j + 1) * dim));
  const norm = Math.sqrt(row.reduce((s, x) => s + x * x, 0));
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new NasError('E_NUMERICAL', `Eigenvector of neuron ${j} has norm ${norm}; cannot use it as a direction`, {
      neuron: j,
      norm,
    });
  }
  return row.map((x) => x / norm);
}

/** Standard normal draws from a uniform [0, 1) source (Box–Muller; two uniforms per draw, no caching). */
export function normalFrom(random: () => number): number {
  let u = random();
  while (u <= 0) u = random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A direction drawn uniformly on the unit sphere of ℝ^dim (normalised Gaussian), from `random` only. */
export function randomUnitVector(dim: number, random: () => number): number[] {
  for (;;) {
    const v = Array.from({ length: dim }, () => normalFrom(random));
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    if (norm > 1e-12) return v.map((x) => x / norm);
  }
}

/** How many neurons a round grows: a global fraction (quantile rule) or a fixed count. */
export type CountRule =
  | { readonly selection: 'quantile'; readonly fraction: number }
  | { readonly selection: 'top-k'; readonly k: number };

/** One way a neuron could grow, as selection sees it. */
export interface Candidate {
  /** Index into `context.layers`. */
  readonly layer: number;
  readonly neuron: number;
  /** Lower is better (λ_min, or a signed scheme's II per added neuron). */
  readonly score: number;
  /** Neurons this growth appends to the layer (1 for a two-way split). */
  readonly added: number;
}

/** What {@link selectCandidates} chose and why the rest were left. */
export interface CandidateSelection<C extends Candidate> {
  /** Chosen candidates ordered by layer, then neuron. */
  readonly chosen: C[];
  /** The quantile threshold (quantile rule), else `null`. */
  readonly threshold: number | null;
  /** Candidates that passed the rule but found no room under their layer's cap. */
  readonly droppedByCap: number;
  /** Candidates that passed the rule but had a score ≥ 0 while `requireNegative` was on. */
  readonly droppedNonNegative: number;
}

/**
 * Applies a count rule to one candidate per neuron, then the caps.
 * - `quantile`: the reference's strict global quantile over every candidate's score ({@link selectByQuantile});
 * - `top-k`: the k best scores.
 * Candidates of layers without room (`room[layer]` ≤ 0: at the cap, or not splittable, see {@link layerRoom})
 * are left out before the rule, so they never move the quantile; they count as `droppedByCap`.
 * With `requireNegative`, scores ≥ 0 are dropped. Passing candidates are taken best first while their layer
 * has room; `fit` may return a cheaper substitute when the preferred growth does not fit (signed splitting
 * falls back to a 2-way split), or `null` to skip.
 */
export function selectCandidates<C extends Candidate>(
  candidates: readonly C[],
  rule: CountRule,
  room: readonly number[],
  requireNegative: boolean,
  fit: (candidate: C, roomLeft: number) => C | null = (c, left) => (c.added <= left ? c : null),
): CandidateSelection<C> {
  // Neurons of layers with no room left (at their cap, not splittable, or not listed by the space) are not
  // candidates: the quantile is taken over the neurons that can grow.
  const open = candidates.filter((c) => (room[c.layer] ?? 0) > 0);
  let pool: C[];
  let threshold: number | null = null;
  if (rule.selection === 'quantile') {
    const q = selectByQuantile(
      open.map((c) => c.score),
      rule.fraction,
    );
    threshold = q.threshold;
    pool = q.selected.map((i) => open[i]!);
  } else {
    pool = [...open];
  }
  const ordered = pool
    .map((c, i) => ({ c, i }))
    .sort((a, b) => a.c.score - b.c.score || a.c.layer - b.c.layer || a.c.neuron - b.c.neuron || a.i - b.i);
  const left = [...room];
  const chosen: C[] = [];
  let droppedByCap = candidates.length - open.length;
  let droppedNonNegative = 0;
  const limit = rule.selection === 'top-k' ? rule.k : Number.POSITIVE_INFINITY;
  for (const { c } of ordered) {
    if (chosen.length >= limit) break;
    if (requireNegative && !(c.score < 0)) {
      droppedNonNegative++;
      continue;
    }
    const taken = fit(c, left[c.layer] ?? 0);
    if (taken === null) {
      droppedByCap++;
      continue;
    }
    left[c.layer] = (left[c.layer] ?? 0) - taken.added;
    chosen.push(taken);
  }
  chosen.sort((a, b) => a.layer - b.layer || a.neuron - b.neuron);
  return { chosen, threshold, droppedByCap, droppedNonNegative };
}

/** Count, min, median, max and number of negative values, for the run log. Empty input gives nulls. */
export interface ValueSummary {
  readonly count: number;
  readonly min: number | null;
  readonly median: number | null;
  readonly max: number | null;
  readonly negative: number;
}

/** Summarises `values` (median of an even count is the mean of the middle two). */
export function summarise(values: ArrayLike<number>): ValueSummary {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { count: 0, min: null, median: null, max: null, negative: 0 };
  const mid = n >> 1;
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { count: n, min: sorted[0]!, median, max: sorted[n - 1]!, negative: sorted.filter((x) => x < 0).length };
}

/** One layer's line in a plan's `details.layers`. */
export interface LayerGrowthStats {
  readonly node: string;
  readonly group: string;
  readonly width: number;
  readonly cap: number | null;
  /** Neurons this layer grew from (entries). */
  readonly grown: number;
  /** Neurons appended to the layer (Σ offspring − 1 over its entries). */
  readonly added: number;
  /** λ_min over the layer's neurons, where the grower read splitting scores and the layer is splittable. */
  readonly lambdaMin?: ValueSummary;
}

/**
 * Per-layer stats from the chosen candidates (and the splitting scores, when there are any; a layer that is not
 * splittable gets no λ_min summary, its placeholder λ are not eigenvalues).
 */
export function layerStats(
  context: MethodContext,
  chosen: readonly Candidate[],
  results?: readonly EigenResult[],
): LayerGrowthStats[] {
  return context.layers.map((layer, l) => {
    const mine = chosen.filter((c) => c.layer === l);
    const base = {
      node: layer.node,
      group: layer.group,
      width: layer.width,
      cap: layer.cap,
      grown: mine.length,
      added: mine.reduce((s, c) => s + c.added, 0),
    };
    const r = results?.[l];
    return r === undefined || !layer.splittable ? base : { ...base, lambdaMin: summarise(r.lambdaMin) };
  });
}

/**
 * λ_min over every neuron of every block, for the run log. With `layers` (parallel to `results`), the blocks
 * of layers that are not splittable are left out (their placeholder λ_min is +∞).
 */
export function lambdaMinSummary(results: readonly EigenResult[], layers?: readonly MethodLayer[]): ValueSummary {
  const all: number[] = [];
  results.forEach((r, b) => {
    if (layers?.[b]?.splittable !== false) all.push(...r.lambdaMin);
  });
  return summarise(all);
}
