import { NasError } from '@mitosis/core';

/**
 * Neuron-selection rules shared by the growers (algorithms.md §2.4, §3.3, check H).
 *
 * The signatures match `selectByQuantile` / `knapsackGreedy` / `selectByBeta` of `@mitosis/splitting`, so the
 * growers can switch to that package once it builds without TF.js in the way (see this plugin's README).
 */

/** Result of {@link selectByQuantile}. */
export interface QuantileSelection {
  /** `sorted(λ)[floor(fraction·N)]`, or +∞ when that index is past the end. */
  readonly threshold: number;
  /** Indices with λ strictly below the threshold, ascending (ties at the threshold are dropped). */
  readonly selected: number[];
}

/**
 * The S2D reference rule (`index_eigen.py`): pool every λ, take `thre = sorted(λ)[floor(fraction·N)]` and
 * select each index with λ < thre. The comparison is strict, so ties at the quantile are dropped, and there is
 * no λ < 0 test (the growers add one). `fraction` ∈ [0, 1].
 */
export function selectByQuantile(lambdas: ArrayLike<number>, fraction: number): QuantileSelection {
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new NasError('E_OPTIONS_INVALID', `The quantile fraction must lie in [0, 1], got ${fraction}`, { fraction });
  }
  const n = lambdas.length;
  const sorted: number[] = [];
  for (let i = 0; i < n; i++) {
    const value = lambdas[i]!;
    if (Number.isNaN(value)) {
      throw new NasError('E_NUMERICAL', `Splitting index ${i} is NaN; the eigen solve did not converge`, { index: i });
    }
    sorted.push(value);
  }
  sorted.sort((a, b) => a - b);
  const k = Math.floor(fraction * n);
  const threshold = k < n ? sorted[k]! : Number.POSITIVE_INFINITY;
  const selected: number[] = [];
  for (let i = 0; i < n; i++) if (lambdas[i]! < threshold) selected.push(i);
  return { threshold, selected };
}

/** One candidate of the energy-aware knapsack. */
export interface KnapsackItem {
  /** Splitting index (λ_min); only λ < 0 is ever selected. */
  readonly lambda: number;
  /** Layer index into `layerCaps`. */
  readonly layer: number;
  /** Cost of growing this neuron, > 0, in the budget's unit. */
  readonly cost: number;
  /** Budget group index into `groupBudgets` (default 0). */
  readonly group?: number;
  /**
   * The cost the item is ranked by (λ / rankCost), when it differs from the cost it spends (a compressed cost
   * such as √Δ ranks, the true Δ is spent); default `cost`. The greedy is then a heuristic, not the LP optimum.
   */
  readonly rankCost?: number;
}

/** Result of {@link knapsackGreedy}. */
export interface KnapsackResult {
  /** β_i ∈ [0, 1]: the LP relaxation's optimum, at most one fractional item per binding constraint. */
  readonly beta: Float64Array;
  /** Σ β_i λ_i. */
  readonly objective: number;
  /** Budget used per group, Σ β_i c_i. */
  readonly used: Float64Array;
}

/**
 * Solves the LP relaxation of the energy-aware knapsack exactly, without an LP solver (algorithms.md §3.3):
 * minimise Σ β_i λ_i subject to Σ_{i∈g} β_i c_i ≤ B_g for each group, Σ_{i∈l} β_i ≤ cap_l for each layer,
 * 0 ≤ β ≤ 1. All items of a layer must share one cost and one group (as in the reference code), which is what
 * makes the greedy exact: per layer only the cap-many most negative λ compete; those are filled in ascending
 * λ/c order into their group's budget, the last one fractionally. `layerCaps` may hold `Infinity`.
 */
export function knapsackGreedy(
  items: readonly KnapsackItem[],
  groupBudgets: readonly number[],
  layerCaps: readonly number[],
): KnapsackResult {
  groupBudgets.forEach((b, g) => {
    if (!(b >= 0) || !Number.isFinite(b)) {
      throw new NasError('E_OPTIONS_INVALID', `Budget of group ${g} must be a finite number ≥ 0, got ${b}`, { group: g });
    }
  });
  const layerInfo = new Map<number, { cost: number; group: number; members: number[] }>();
  items.forEach((item, i) => {
    const group = item.group ?? 0;
    const where = { item: i, layer: item.layer, group };
    if (!Number.isInteger(item.layer) || item.layer < 0 || item.layer >= layerCaps.length) {
      throw new NasError('E_OPTIONS_INVALID', `Knapsack item ${i}: layer ${item.layer} has no cap`, where);
    }
    if (!Number.isInteger(group) || group < 0 || group >= groupBudgets.length) {
      throw new NasError('E_OPTIONS_INVALID', `Knapsack item ${i}: group ${group} has no budget`, where);
    }
    if (!(item.cost > 0) || !Number.isFinite(item.cost) || Number.isNaN(item.lambda)) {
      throw new NasError('E_OPTIONS_INVALID', `Knapsack item ${i}: the cost must be finite and > 0, λ a number`, where);
    }
    const info = layerInfo.get(item.layer);
    if (info === undefined) layerInfo.set(item.layer, { cost: item.cost, group, members: [i] });
    else if (info.cost !== item.cost || info.group !== group) {
      throw new NasError('E_OPTIONS_INVALID', `Knapsack items of layer ${item.layer} must share one cost and one group`, where);
    } else info.members.push(i);
  });
  const capLeft = layerCaps.map((c) => Math.max(0, c));
  const candidates: number[] = [];
  for (const [layer, info] of layerInfo) {
    const negative = info.members.filter((i) => items[i]!.lambda < 0);
    negative.sort((a, b) => items[a]!.lambda - items[b]!.lambda || a - b);
    const keep = Math.min(negative.length, Math.ceil(capLeft[layer]!));
    candidates.push(...negative.slice(0, keep));
  }
  candidates.sort((a, b) => {
    const ia = items[a]!;
    const ib = items[b]!;
    return ia.lambda / (ia.rankCost ?? ia.cost) - ib.lambda / (ib.rankCost ?? ib.cost) || a - b;
  });
  const beta = new Float64Array(items.length);
  const used = new Float64Array(groupBudgets.length);
  for (const i of candidates) {
    const item = items[i]!;
    const g = item.group ?? 0;
    const room = Math.min(1, capLeft[item.layer]!, (groupBudgets[g]! - used[g]!) / item.cost);
    if (!(room > 0)) continue;
    beta[i] = room;
    used[g] = used[g]! + room * item.cost;
    capLeft[item.layer] = capLeft[item.layer]! - room;
  }
  let objective = 0;
  for (let i = 0; i < items.length; i++) objective += beta[i]! * items[i]!.lambda;
  return { beta, objective, used };
}

/** Indices with β ≥ `threshold` (the reference rounding: 0.99 on CIFAR, 0.9 on ImageNet), ascending. */
export function selectByBeta(beta: ArrayLike<number>, threshold = 0.99): number[] {
  const out: number[] = [];
  for (let i = 0; i < beta.length; i++) if (beta[i]! >= threshold) out.push(i);
  return out;
}
