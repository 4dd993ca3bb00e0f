import {
  NasError,
  type EigenResult,
  type EigenSolveOptions,
  type EigenSolverRegistry,
  type GrowthContext,
} from '@mitosis/core';
import { selectByQuantile } from './selection.js';

/**
 * Helpers every grower of this repository shares: checking the context against the solver's blocks, per-layer
 * room under the caps, count rules with caps, statistics for the run log, random unit directions.
 */

/**
 * Neurons each layer may still add this round: `cap − width`, or `Infinity` without a cap. A cap below the
 * current width is an `E_CONFIG_INVALID` naming the node (the reference code would silently grow nothing).
 */
export function layerRoom(context: GrowthContext): number[] {
  return context.layers.map((layer) => {
    if (!Number.isInteger(layer.width) || layer.width < 0) {
      throw new NasError('E_SHAPE_MISMATCH', `Growable layer "${layer.node}" has an invalid width ${layer.width}`, {
        node: layer.node,
        width: layer.width,
      });
    }
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
 * Checks that the splitting operator's blocks are the context's layers, in order, with one neuron per output
 * channel (`E_SHAPE_MISMATCH` otherwise). Returns each block's `dim` (length of θ).
 */
export function checkOperatorBlocks(context: GrowthContext): number[] {
  const blocks = context.operator.blocks;
  if (blocks.length !== context.layers.length) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `The splitting operator has ${blocks.length} blocks but the growth context lists ${context.layers.length} layers`,
      { blocks: blocks.map((b) => b.name), layers: context.layers.map((l) => l.node) },
    );
  }
  return blocks.map((block, b) => {
    const layer = context.layers[b]!;
    if (block.name !== layer.node || block.neurons !== layer.width) {
      throw new NasError(
        'E_SHAPE_MISMATCH',
        `Splitting block ${b} is "${block.name}" with ${block.neurons} neurons but layer ${b} of the growth context ` +
          `is "${layer.node}" with width ${layer.width}`,
        { block: block.name, node: layer.node, neurons: block.neurons, width: layer.width },
      );
    }
    return block.dim;
  });
}

/**
 * Runs eigen solver `id` with `options` on the context's operator and checks that its results line up with
 * `context.layers` (one result per layer, same node, same neuron count and `dim`, full-length arrays).
 */
export async function solveSplittingEigen(
  solvers: EigenSolverRegistry,
  id: string,
  options: unknown,
  context: GrowthContext,
): Promise<EigenResult[]> {
  const dims = checkOperatorBlocks(context);
  const solver = solvers.create(id, options);
  const solveOptions: EigenSolveOptions = context.onProgress === undefined ? {} : { onProgress: context.onProgress };
  const results = await solver.solve(context.operator, solveOptions);
  if (results.length !== context.layers.length) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Eigen solver "${id}" returned ${results.length} blocks for ${context.layers.length} growable layers`,
      { solver: id },
    );
  }
  results.forEach((r, b) => {
    const layer = context.layers[b]!;
    const n = r.neurons;
    const ok =
      r.block === layer.node &&
      n === layer.width &&
      r.dim === dims[b] &&
      r.lambdaMin.length === n &&
      r.lambdaMax.length === n &&
      r.vMin.length === n * r.dim &&
      r.vMax.length === n * r.dim;
    if (!ok) {
      throw new NasError(
        'E_SHAPE_MISMATCH',
        `Eigen solver "${id}" returned block "${r.block}" (${n} neurons, dim ${r.dim}) where layer "${layer.node}" ` +
          `(${layer.width} neurons, dim ${dims[b]}) was expected`,
        { solver: id, block: r.block, node: layer.node },
      );
    }
  });
  return results;
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
  // Neurons of layers with no room left (at their cap, or not listed by the space) are not candidates: the
  // quantile is taken over the neurons that can grow.
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

/** One growable layer's line in a plan's `stats.layers`. */
export interface LayerGrowthStats {
  readonly node: string;
  readonly group: string;
  readonly width: number;
  readonly cap: number | null;
  /** Neurons this layer grew from (entries). */
  readonly grown: number;
  /** Neurons appended to the layer (Σ offspring − 1 over its entries). */
  readonly added: number;
  /** λ_min over the layer's neurons, where the grower solved for it. */
  readonly lambdaMin?: ValueSummary;
}

/** Per-layer stats from the chosen candidates (and the eigen results, when there are any). */
export function layerStats(
  context: GrowthContext,
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
    return r === undefined ? base : { ...base, lambdaMin: summarise(r.lambdaMin) };
  });
}

/** λ_min over every neuron of every block, for the run log. */
export function lambdaMinSummary(results: readonly EigenResult[]): ValueSummary {
  const all: number[] = [];
  for (const r of results) all.push(...r.lambdaMin);
  return summarise(all);
}
