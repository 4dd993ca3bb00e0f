import type { NetworkSpec } from '../network/network-spec.js';
import type { CostModel, CostUnit } from './cost-model.js';
import type { EigenResult } from './eigen-solver.js';

/**
 * The contract shared by every method (grower, pruner, resizer): what the loop hands a method each round and
 * what a method may ask the loop to compute. Scores are data: a method declares the scores it needs, the loop
 * computes them once per round (splitting eigenpairs through the EigenSolver plugins, weight norms, batch-norm
 * scales, Taylor importance, gradient norms) and passes them in; a method never runs its own eigen solve.
 */

/**
 * The directions a method can take a network: grow or prune channels, resize every width once, or shrink a
 * cell's topology edge by edge (see `shrinker.ts`).
 */
export type MethodKind = 'grower' | 'pruner' | 'resizer' | 'shrinker';

/**
 * A score a method asks for.
 * - `splitting`: λ_min, v_min, λ_max, v_max of every neuron's splitting matrix (algorithms.md §2), by the named
 *   eigen solver with its options (validated by the solver's schema when the run is set up);
 * - `weightNorm`: mean |w| (norm 1) or root-mean-square w (norm 2) of each output channel's incoming weights
 *   (Li et al. 2017 use the L1 norm);
 * - `bnScale`: |γ| of the batch norm after the producer (Liu et al. 2017), `null` for layers without one;
 * - `taylor`: first-order Taylor importance (Molchanov et al. 2019): per minibatch (Σ_{params of the channel}
 *   w·∂L/∂w)², averaged over the scoring set; the channel's batch-norm γ, β when it has one, else its incoming
 *   weights and bias;
 * - `gradientNorm`: ‖E[∂L/∂θ]‖₂ of each channel's incoming parameters θ over the scoring set.
 * Every score is computed per channel group: tied producers (a residual `add`) add their values.
 */
export type ScoreRequest =
  | { readonly kind: 'splitting'; readonly solver: string; readonly solverOptions?: Readonly<Record<string, unknown>> }
  | { readonly kind: 'weightNorm'; readonly norm: 1 | 2 }
  | { readonly kind: 'bnScale' }
  | { readonly kind: 'taylor' }
  | { readonly kind: 'gradientNorm' };

export type ScoreKind = ScoreRequest['kind'];
export const SCORE_KINDS: readonly ScoreKind[] = ['splitting', 'weightNorm', 'bnScale', 'taylor', 'gradientNorm'];

/**
 * The splitting result the loop gives a layer that has no splitting matrix (no non-identity activation after
 * it): `neurons` = its width, `dim` 0, λ_min = +∞ and λ_max = −∞ (never selected), empty vectors.
 */
export function unsplittableEigenResult(block: string, neurons: number): EigenResult {
  return {
    block,
    neurons,
    dim: 0,
    lambdaMin: new Float64Array(neurons).fill(Number.POSITIVE_INFINITY),
    lambdaMax: new Float64Array(neurons).fill(Number.NEGATIVE_INFINITY),
    vMin: new Float64Array(0),
    vMax: new Float64Array(0),
    residualMin: new Float64Array(neurons),
    residualMax: new Float64Array(neurons),
  };
}

/**
 * The scores of one round, each parallel to {@link MethodContext.layers} (one entry per layer, one value per
 * output channel). Only the requested kinds are present.
 */
export interface MethodScores {
  /** Eigenpairs of the layer's splitting producer (`block` = its node). */
  readonly splitting?: readonly EigenResult[];
  readonly weightNorm?: readonly Float64Array[];
  readonly bnScale?: readonly (Float64Array | null)[];
  readonly taylor?: readonly Float64Array[];
  readonly gradientNorm?: readonly Float64Array[];
}

/**
 * One unit of choice: a channel group of the network (the channels that must change together: one producer's,
 * or several producers tied by a residual `add`), as a method sees it.
 */
export interface MethodLayer {
  /** The producer the method addresses (dense, conv2d): the group's splittable producer, else its first. */
  readonly node: string;
  /** Every producer of the group, `node` first. */
  readonly producers: readonly string[];
  /** Channel group id in the channel dependency graph. */
  readonly channelGroup: number;
  /** Current output channels. */
  readonly width: number;
  /** Most channels allowed, `null` for no cap. */
  readonly cap: number | null;
  /** Fewest channels allowed (pruning never goes below). */
  readonly min: number;
  /** Budget group of the search space (energy-aware splitting's `split_groups`). */
  readonly group: string;
  /** Δcost of one more output channel, in `costUnit` (exact re-pricing of the widened network). */
  readonly marginalCost: number | null;
  /** Cost saved by removing one output channel, in `costUnit` (exact re-pricing), `null` at `min`. */
  readonly pruneCost: number | null;
  /** Whether the producer has a splitting matrix (a non-identity activation right after it). */
  readonly splittable: boolean;
}

/** @deprecated Use {@link MethodLayer}. */
export type GrowableLayer = MethodLayer;

/** Everything a grower or pruner may look at when it plans one round. It must not mutate any of it. */
export interface MethodContext {
  readonly round: number;
  readonly spec: NetworkSpec;
  readonly layers: readonly MethodLayer[];
  /** The scores the method declared in `needs`. */
  readonly scores: MethodScores;
  /** The cost model that budgets are expressed in. */
  readonly costModel: CostModel;
  readonly costUnit: CostUnit;
  /** The network's cost now. */
  readonly cost: number | null;
  /** The run's cost target, `null` without a budget. */
  readonly target: number | null;
  /**
   * This round's budget in `costUnit`: cost to add (growers) or to remove (pruners); `null` when the method's
   * own rule decides how much to change. The plan policy enforces it whatever the plan says.
   */
  readonly budget: number | null;
  /** Seeded uniform [0, 1) generator; the only randomness a method may use. */
  readonly random: () => number;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** @deprecated Use {@link MethodContext}. */
export type GrowthContext = MethodContext;

/** What a resizer sees: the space's reference network and a way to price candidate widths. */
export interface ResizeContext {
  /** The network whose widths are scaled (the space's seed). */
  readonly spec: NetworkSpec;
  readonly layers: readonly MethodLayer[];
  readonly costModel: CostModel;
  readonly costUnit: CostUnit;
  readonly target: number | null;
  /** Cost of the network with these widths (by producer node; layers not named keep theirs), `null` if unpriced. */
  price(widths: Readonly<Record<string, number>>): number | null;
  readonly random: () => number;
}

/** Training the loop runs on a method's behalf (network slimming's sparsity on batch-norm scales). */
export interface MethodTraining {
  /** Adds `bnScaleL1`·Σ|γ| over the layers' batch norms to the loss of the first training phase. */
  readonly bnScaleL1?: number;
}
