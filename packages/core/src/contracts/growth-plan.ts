/**
 * A growth plan is data: which neurons grow, into which offspring, with which outgoing weights. Growers
 * produce it; the engine's surgery applies it; the run log records it.
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
  /** The selection score (e.g. λ_min), lower is better. */
  readonly score: number;
  /** Second-order prediction of ΔL at the plan's ε, where the grower has one. */
  readonly predictedDeltaLoss: number | null;
  /** Added cost in the cost model's unit, where known. */
  readonly cost: number | null;
}

/** One round's growth: every neuron that grows, the step size, and the grower's statistics. */
export interface GrowthPlan {
  readonly grower: string;
  readonly round: number;
  /** Step size ε applied to every `direction`. */
  readonly epsilon: number;
  readonly entries: readonly NeuronGrowth[];
  /** Σ of the entries' predictions (additivity, algorithms.md §1). */
  readonly predictedDeltaLoss: number | null;
  /** Grower-specific statistics, logged as they are (eigenvalue summaries, budget use). */
  readonly stats?: Readonly<Record<string, unknown>>;
}
