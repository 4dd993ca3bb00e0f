import {
  NasError,
  type CostModel,
  type GrowthPlan,
  type MethodLayer,
  type NetworkSpec,
  type NeuronGrowth,
  type PrunePlan,
  type ChannelRemoval,
  type ResizePlan,
} from '@mitosis/core';
import { buildChannelGraph } from '@mitosis/ir';
import { priceWidths } from './method-layers.js';

/**
 * The one plan policy: every method's plan passes through here before surgery, so caps, minimum widths, tied
 * channel groups and the round's budget hold for every plugin. It never reorders a method's preferences: a
 * grower's entries are taken best score first, a pruner's ranking in its order, and the budget cut is the
 * longest (grow) or shortest (prune) prefix that meets the round's target when the whole network is re-priced
 * exactly by the cost model — no additive approximation.
 */

/** One statistics schema for every plan in the run log (method-specific numbers stay in `details`). */
export interface PlanStats {
  readonly action: 'grow' | 'prune' | 'resize';
  /** Entries the method proposed (growths, ranked removals, resized layers). */
  readonly proposed: number;
  /** Entries the policy kept. */
  readonly accepted: number;
  /** Entries dropped, by reason. */
  readonly dropped: { readonly cap: number; readonly min: number; readonly tied: number; readonly budget: number };
  /** Output channels added (+) or removed (−) per layer. */
  readonly channels: Readonly<Record<string, number>>;
  readonly cost: { readonly before: number | null; readonly after: number | null; readonly unit: string };
  /** The round's allowance: cost to add (grow) or remove (prune), `null` when unbudgeted. */
  readonly budget: number | null;
  /** Share of the allowance used, `null` when unbudgeted. */
  readonly budgetUsed: number | null;
}

/** What the policy needs to know about the network the plan was made for. */
export interface PolicyInput {
  readonly spec: NetworkSpec;
  readonly layers: readonly MethodLayer[];
  readonly costModel: CostModel;
  /** This round's allowance (see {@link PlanStats.budget}). */
  readonly budget: number | null;
}

function invalid(method: string, message: string, details: Record<string, unknown>): NasError {
  return new NasError('E_PLAN_INVALID', `Method "${method}" returned an invalid plan: ${message}`, { method, ...details });
}

function layerIndex(layers: readonly MethodLayer[]): Map<string, number> {
  const byNode = new Map<string, number>();
  layers.forEach((l, i) => byNode.set(l.node, i));
  return byNode;
}

/** Largest k in [0, n] with ok(k) true, for ok monotone (true then false); ok(0) is assumed. */
function longestPrefix(n: number, ok: (k: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function widthsAfter(layers: readonly MethodLayer[], delta: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  layers.forEach((l, i) => {
    if (delta[i] !== 0) out[l.node] = l.width + delta[i]!;
  });
  return out;
}

/**
 * Grow plans: every entry names a layer's node and a channel in range, has ≥ 2 offspring, the offspring that keep
 * the parent's θ have weights summing to 1 (the network function is kept at ε = 0 but for fresh neurons), and the plan's ε is finite and ≥ 0 — otherwise `E_PLAN_INVALID`
 * (a method bug). Then, best score first: one growth per channel of a tied group, each layer within its cap,
 * and each growth kept only if the network re-priced exactly with it stays within the round's budget (one that
 * does not fit is skipped; cheaper ones after it may still fit).
 */
export function growPolicy(plan: GrowthPlan, input: PolicyInput): { plan: GrowthPlan; stats: PlanStats } {
  const { layers } = input;
  const byNode = layerIndex(layers);
  if (!(plan.epsilon >= 0) || !Number.isFinite(plan.epsilon)) throw invalid(plan.method, `ε = ${plan.epsilon}`, { epsilon: plan.epsilon });
  plan.entries.forEach((e, i) => {
    const l = byNode.get(e.node);
    if (l === undefined) throw invalid(plan.method, `entry ${i} grows "${e.node}", which is not a layer of this round (layers: ${layers.map((x) => x.node).join(', ')})`, { entry: i, node: e.node });
    if (!Number.isInteger(e.neuron) || e.neuron < 0 || e.neuron >= layers[l]!.width) throw invalid(plan.method, `entry ${i}: neuron ${e.neuron} of "${e.node}" is out of range`, { entry: i, node: e.node });
    if (e.offspring.length < 2) throw invalid(plan.method, `entry ${i} has ${e.offspring.length} offspring (at least 2)`, { entry: i });
    // Offspring that keep the parent's θ (moved by ±εv or not) must carry its outgoing weights in full, so the
    // function is kept at ε = 0; a fresh neuron (`replace`) adds its own contribution on top.
    const sum = e.offspring.filter((o) => o.replace === undefined).reduce((s, o) => s + o.weight, 0);
    if (!(Math.abs(sum - 1) <= 1e-6)) throw invalid(plan.method, `entry ${i}: the weights of the offspring that keep the parent's θ sum to ${sum}, not 1`, { entry: i, sum });
    if (e.offspring.some((o) => !Number.isFinite(o.weight))) throw invalid(plan.method, `entry ${i} has a non-finite offspring weight`, { entry: i });
    if (Number.isNaN(e.score)) throw invalid(plan.method, `entry ${i} has a NaN score`, { entry: i });
  });
  const order = plan.entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.score - b.e.score || a.i - b.i);
  const room = layers.map((l) => (l.cap === null ? Number.POSITIVE_INFINITY : l.cap - l.width));
  const taken = new Set<string>();
  const dropped = { cap: 0, min: 0, tied: 0, budget: 0 };
  const kept: { e: NeuronGrowth; i: number; layer: number; added: number }[] = [];
  for (const { e, i } of order) {
    const l = byNode.get(e.node)!;
    const key = `${layers[l]!.channelGroup}:${e.neuron}`;
    if (taken.has(key)) {
      dropped.tied++;
      continue;
    }
    const added = e.offspring.length - 1;
    if (added > room[l]!) {
      dropped.cap++;
      continue;
    }
    room[l] = room[l]! - added;
    taken.add(key);
    kept.push({ e, i, layer: l, added });
  }
  const graph = buildChannelGraph(input.spec);
  const before = input.costModel.estimate(input.spec).total;
  const delta = layers.map(() => 0);
  let accepted = kept;
  let after = before;
  if (input.budget !== null && before !== null) {
    // Best score first, each growth kept when the whole network, re-priced with it, still fits; one that does
    // not fit is skipped and cheaper ones after it may still go in.
    const limit = (before + input.budget) * (1 + 1e-12);
    accepted = [];
    for (const x of kept) {
      delta[x.layer] = delta[x.layer]! + x.added;
      const c = priceWidths(input.costModel, input.spec, widthsAfter(layers, delta), graph);
      if (c !== null && c <= limit) {
        accepted.push(x);
        after = c;
      } else {
        delta[x.layer] = delta[x.layer]! - x.added;
        dropped.budget++;
      }
    }
  } else {
    for (const x of kept) delta[x.layer] = delta[x.layer]! + x.added;
    after = accepted.length === 0 ? before : priceWidths(input.costModel, input.spec, widthsAfter(layers, delta), graph);
  }
  const entries = [...accepted].sort((a, b) => a.i - b.i).map((x) => x.e);
  const stats: PlanStats = {
    action: 'grow',
    proposed: plan.entries.length,
    accepted: entries.length,
    dropped,
    channels: widthsAfterDelta(layers, delta),
    cost: { before, after, unit: input.costModel.unit },
    budget: input.budget,
    budgetUsed: budgetShare(input.budget, before, after, 1),
  };
  const predicted = entries.some((e) => e.predictedDeltaLoss === null) ? null : entries.reduce((s, e) => s + (e.predictedDeltaLoss ?? 0), 0);
  return { plan: { ...plan, entries, predictedDeltaLoss: entries.length === plan.entries.length ? plan.predictedDeltaLoss : predicted }, stats };
}

function widthsAfterDelta(layers: readonly MethodLayer[], delta: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  layers.forEach((l, i) => {
    if (delta[i] !== 0) out[l.node] = delta[i]!;
  });
  return out;
}

function budgetShare(budget: number | null, before: number | null, after: number | null, sign: 1 | -1): number | null {
  if (budget === null || before === null || after === null || !(budget > 0)) return null;
  return (sign * (after - before)) / budget;
}

/**
 * Prune plans: every entry names a layer's node and a channel in range (`E_PLAN_INVALID` otherwise); repeated
 * channels of a tied group count once; removals that would take a layer below its `min` are skipped; then the
 * shortest prefix of the ranking whose exactly-priced cost is at most `cost − budget` is kept (all of it when no
 * prefix gets there: the run then reports the target as not met). The prefix's last removal may overshoot the
 * goal by a whole expensive channel (one channel of an early convolution can be a quarter of a small network's
 * MACs), so the last removal is the one, among the first remaining candidate of each layer (in ranking order),
 * that still reaches the goal with the least overshoot: the run ends as close under its target as the
 * granularity allows, which equal-cost comparisons need.
 */
export function prunePolicy(plan: PrunePlan, input: PolicyInput): { plan: PrunePlan; stats: PlanStats } {
  const { layers } = input;
  const byNode = layerIndex(layers);
  plan.entries.forEach((e, i) => {
    const l = byNode.get(e.node);
    if (l === undefined) throw invalid(plan.method, `entry ${i} prunes "${e.node}", which is not a layer of this round (layers: ${layers.map((x) => x.node).join(', ')})`, { entry: i, node: e.node });
    if (!Number.isInteger(e.channel) || e.channel < 0 || e.channel >= layers[l]!.width) throw invalid(plan.method, `entry ${i}: channel ${e.channel} of "${e.node}" is out of range`, { entry: i, node: e.node });
    if (Number.isNaN(e.score)) throw invalid(plan.method, `entry ${i} has a NaN score`, { entry: i });
  });
  const left = layers.map((l) => l.width - l.min);
  const taken = new Set<string>();
  const dropped = { cap: 0, min: 0, tied: 0, budget: 0 };
  const kept: { e: ChannelRemoval; layer: number }[] = [];
  for (const e of plan.entries) {
    const l = byNode.get(e.node)!;
    const key = `${layers[l]!.channelGroup}:${e.channel}`;
    if (taken.has(key)) {
      dropped.tied++;
      continue;
    }
    if (left[l]! <= 0) {
      dropped.min++;
      continue;
    }
    left[l] = left[l]! - 1;
    taken.add(key);
    kept.push({ e, layer: l });
  }
  const graph = buildChannelGraph(input.spec);
  const before = input.costModel.estimate(input.spec).total;
  const deltaOf = (k: number): number[] => {
    const delta = layers.map(() => 0);
    for (const x of kept.slice(0, k)) delta[x.layer] = delta[x.layer]! - 1;
    return delta;
  };
  const priceOf = (k: number): number | null => (k === 0 ? before : priceWidths(input.costModel, input.spec, widthsAfter(layers, deltaOf(k)), graph));
  let k = kept.length;
  if (input.budget !== null && before !== null) {
    const goal = before - input.budget;
    // Shortest prefix reaching the goal = one more than the longest prefix still above it.
    const above = longestPrefix(kept.length, (m) => {
      const c = priceOf(m);
      return m === 0 || c === null || c > goal * (1 + 1e-12);
    });
    k = Math.min(kept.length, above + 1);
    if (before <= goal) k = 0;
    if (k > 0 && k <= kept.length && (priceOf(k) ?? Number.NEGATIVE_INFINITY) <= goal * (1 + 1e-12)) {
      // The finisher: the first remaining candidate of each layer after the k − 1 kept, priced with them.
      const base = deltaOf(k - 1);
      let best = k - 1;
      let bestPrice = priceOf(k) as number;
      const seen = new Set<number>();
      for (let j = k - 1; j < kept.length; j++) {
        const layer = kept[j]!.layer;
        if (seen.has(layer)) continue;
        seen.add(layer);
        const delta = base.slice();
        delta[layer] = delta[layer]! - 1;
        const price = priceWidths(input.costModel, input.spec, widthsAfter(layers, delta), graph);
        if (price !== null && price <= goal * (1 + 1e-12) && price > bestPrice) {
          best = j;
          bestPrice = price;
        }
      }
      if (best !== k - 1) kept.splice(k - 1, 0, kept.splice(best, 1)[0]!);
    }
  }
  dropped.budget = kept.length - k;
  const entries = kept.slice(0, k).map((x) => x.e);
  const after = priceOf(k);
  return {
    plan: { ...plan, entries },
    stats: {
      action: 'prune',
      proposed: plan.entries.length,
      accepted: entries.length,
      dropped,
      channels: widthsAfterDelta(layers, deltaOf(k)),
      cost: { before, after, unit: input.costModel.unit },
      budget: input.budget,
      budgetUsed: budgetShare(input.budget, before, after, -1),
    },
  };
}

/**
 * Resize plans: every width names a layer's node with an integer ≥ the layer's `min` (`E_PLAN_INVALID`
 * otherwise). Caps bound growers only; a width multiplier may go past them.
 */
export function resizePolicy(plan: ResizePlan, input: PolicyInput): { plan: ResizePlan; stats: PlanStats } {
  const byNode = layerIndex(input.layers);
  const channels: Record<string, number> = {};
  for (const [node, width] of Object.entries(plan.widths)) {
    const l = byNode.get(node);
    if (l === undefined) throw invalid(plan.method, `it resizes "${node}", which is not a layer of the space (layers: ${input.layers.map((x) => x.node).join(', ')})`, { node });
    const layer = input.layers[l]!;
    if (!Number.isInteger(width) || width < layer.min) throw invalid(plan.method, `width ${width} of "${node}" is below its minimum ${layer.min} or not an integer`, { node, width });
    if (width !== layer.width) channels[node] = width - layer.width;
  }
  const before = input.costModel.estimate(input.spec).total;
  const after = priceWidths(input.costModel, input.spec, plan.widths);
  return {
    plan,
    stats: {
      action: 'resize',
      proposed: Object.keys(plan.widths).length,
      accepted: Object.keys(plan.widths).length,
      dropped: { cap: 0, min: 0, tied: 0, budget: 0 },
      channels,
      cost: { before, after, unit: input.costModel.unit },
      budget: null,
      budgetUsed: null,
    },
  };
}
