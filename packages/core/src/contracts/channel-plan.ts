/**
 * A channel plan is data: what one round of a method changes in the network, by channel. Growers, pruners and
 * resizers all return one; the loop's plan policy checks it (caps, tied channel groups, the round's budget) and
 * the IR surgery applies it through the channel dependency graph. The run log records it.
 *
 * A neuron's parameter vector θ (length `dim`) is its incoming weights in the row-major order of the kernel
 * without the output axis (dense: `[in]`; conv2d: `[kh, kw, in]`; depthwiseConv2d: `[kh, kw]`), followed by
 * its bias when the layer has one.
 */

/** One offspring of a grown neuron. */
export interface Offspring {
  /** Multiplies the parent's outgoing weights. Σ weights = 1 keeps the network function at ε = 0. */
  readonly weight: number;
  /** θ_i = θ + ε·direction (length `dim`); omitted means θ_i = θ. */
  readonly direction?: readonly number[];
  /** θ_i = replace (a fresh neuron); takes precedence over `direction`. */
  readonly replace?: readonly number[];
}

/** How one neuron grows: which neuron, into which offspring, why (score) and at what predicted gain and cost. */
export interface NeuronGrowth {
  /** The producing node (dense, conv2d). */
  readonly node: string;
  /** Output channel index in the network the plan was made for. */
  readonly neuron: number;
  /** Offspring 0 takes the parent's slot; the others are appended at the end of the layer, in order. */
  readonly offspring: readonly Offspring[];
  /** Name of the scheme (`s2d`, `signed-negative-pair`, `random-direction`, …). */
  readonly scheme: string;
  /** The selection score (e.g. λ_min), lower is better: the plan policy keeps the best scores first. */
  readonly score: number;
  /** Second-order prediction of ΔL at the plan's ε, where the method has one. */
  readonly predictedDeltaLoss: number | null;
  /** Added cost in the cost model's unit, where known (the layer's marginal cost per appended channel). */
  readonly cost: number | null;
}

/** Method-specific numbers a plan carries into the run log (eigenvalue summaries, LP statistics, …). */
export type PlanDetails = Readonly<Record<string, unknown>>;

/** A grower's plan: every neuron that grows and the step size. */
export interface GrowthPlan {
  readonly action: 'grow';
  readonly method: string;
  readonly round: number;
  /** Step size ε applied to every `direction`. */
  readonly epsilon: number;
  readonly entries: readonly NeuronGrowth[];
  /** Σ of the entries' predictions (additivity, algorithms.md §1). */
  readonly predictedDeltaLoss: number | null;
  readonly details?: PlanDetails;
}

/** One output channel a pruner would remove, with its importance (lower is removed first). */
export interface ChannelRemoval {
  readonly node: string;
  readonly channel: number;
  readonly score: number;
}

/**
 * A pruner's plan: a ranking of removable channels, least important first. The plan policy removes the
 * shortest prefix that brings the network's cost down to the round's target (skipping what the layers'
 * minimum widths or tied groups forbid), so a pruner ranks and never counts.
 */
export interface PrunePlan {
  readonly action: 'prune';
  readonly method: string;
  readonly round: number;
  readonly entries: readonly ChannelRemoval[];
  readonly details?: PlanDetails;
}

/** A resizer's plan: the new width of every layer it changes; the network is re-initialised and trained. */
export interface ResizePlan {
  readonly action: 'resize';
  readonly method: string;
  readonly round: number;
  /** Output channels by producer node. */
  readonly widths: Readonly<Record<string, number>>;
  readonly details?: PlanDetails;
}

/** What every method returns: one data type, applied by the IR surgery. */
export type ChannelPlan = GrowthPlan | PrunePlan | ResizePlan;
