import { NasError } from '@mitosis/core';

/**
 * Shared neuron-selection rules for the growers (algorithms.md §2.4, §3.3, check H).
 */

/** Result of {@link selectByQuantile}. */
export interface QuantileSelection {
  /** The threshold `sorted(λ)[floor(fraction·N)]` (+∞ when that index is past the end). */
  readonly threshold: number;
  /** Indices with λ strictly below the threshold, ascending. Ties at the threshold are dropped. */
  readonly selected: number[];
}

/**
 * The S2D reference rule (`index_eigen.py`): pool all λ, take `thre = sorted(λ)[floor(fraction·N)]` and
 * select every index with λ < thre (strict, so ties at the quantile are dropped; no λ < 0 test).
 * `fraction` in [0, 1]; with floor(fraction·N) ≥ N every index is selected.
 */
export function selectByQuantile(lambdas: ArrayLike<number>, fraction: number): QuantileSelection {
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new NasError('E_OPTIONS_INVALID', `Quantile fraction must lie in [0, 1], got ${fraction}`, { fraction });
  }
  const n = lambdas.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(lambdas[i]!)) {
      throw new NasError('E_NUMERICAL', `Splitting index ${i} is not finite (${lambdas[i]})`, { index: i });
    }
  }
  const sorted = Array.from(lambdas).sort((a, b) => a - b);
  const k = Math.floor(fraction * n);
  const threshold = k < n ? sorted[k]! : Number.POSITIVE_INFINITY;
  const selected: number[] = [];
  for (let i = 0; i < n; i++) if (lambdas[i]! < threshold) selected.push(i);
  return { threshold, selected };
}

/** One candidate neuron of the energy-aware knapsack. */
export interface KnapsackItem {
  /** Splitting index (λ_min or a signed score); only λ < 0 can be selected. */
  readonly lambda: number;
  /** Layer index into `layerCaps`. */
  readonly layer: number;
  /** Cost of splitting this neuron (> 0), in the budget's unit. */
  readonly cost: number;
  /** Budget group index into `groupBudgets` (default 0). */
  readonly group?: number;
}

/** Result of {@link knapsackGreedy}. */
export interface KnapsackResult {
  /** β_i ∈ [0, 1] per item: the LP relaxation's optimum (at most one fractional item per binding group). */
  readonly beta: Float64Array;
  /** Σ β_i λ_i. */
  readonly objective: number;
  /** Budget used per group, Σ β_i c_i. */
  readonly used: Float64Array;
}

/**
 * Solves the LP relaxation of the energy-aware knapsack exactly by greedy (algorithms.md §3.3):
 * minimise Σ β_i λ_i subject to Σ_{i∈g} β_i c_i ≤ B_g per group, Σ_{i∈l} β_i ≤ cap_l per layer, 0 ≤ β ≤ 1.
 * Within a layer (all items of a layer must share one cost and one group, as in the reference code) only
 * the cap-many most negative λ compete (the last may be fractional when the cap is); the rest are sorted
 * by λ/c ascending and fill their group's budget, the last one fractionally.
 */
export function knapsackGreedy(
  items: readonly KnapsackItem[],
  groupBudgets: readonly number[],
  layerCaps: readonly number[],
): KnapsackResult {
  const beta = new Float64Array(items.length);
  const used = new Float64Array(groupBudgets.length);
  groupBudgets.forEach((b, g) => {
    if (!(b >= 0) || !Number.isFinite(b)) {
      throw new NasError('E_OPTIONS_INVALID', `Group budget ${g} must be a finite number ≥ 0, got ${b}`, { group: g });
    }
  });
  const byLayer = new Map<number, number[]>();
  const layerCost = new Map<number, { cost: number; group: number }>();
  items.forEach((item, i) => {
    const group = item.group ?? 0;
    const where = { item: i, layer: item.layer, group };
    if (!Number.isInteger(item.layer) || item.layer < 0 || item.layer >= layerCaps.length) {
      throw new NasError('E_OPTIONS_INVALID', `Item ${i}: layer ${item.layer} has no cap`, where);
    }
    if (!Number.isInteger(group) || group < 0 || group >= groupBudgets.length) {
      throw new NasError('E_OPTIONS_INVALID', `Item ${i}: group ${group} has no budget`, where);
    }
    if (!(item.cost > 0) || !Number.isFinite(item.cost) || !Number.isFinite(item.lambda)) {
      throw new NasError('E_OPTIONS_INVALID', `Item ${i}: cost must be > 0 and λ finite`, where);
    }
    const known = layerCost.get(item.layer);
    if (known === undefined) layerCost.set(item.layer, { cost: item.cost, group });
    else if (known.cost !== item.cost || known.group !== group) {
      throw new NasError(
        'E_OPTIONS_INVALID',
        `Items of layer ${item.layer} must share one cost and one group (item ${i} differs)`,
        where,
      );
    }
    if (item.lambda < 0) {
      const list = byLayer.get(item.layer) ?? [];
      list.push(i);
      byLayer.set(item.layer, list);
    }
  });
  // Per layer: the most negative λ first; caps bound the total β of the layer.
  const capLeft = layerCaps.map((c) => Math.max(0, c));
  const candidates: number[] = [];
  for (const list of byLayer.values()) {
    list.sort((a, b) => items[a]!.lambda - items[b]!.lambda || a - b);
    candidates.push(...list.slice(0, Math.ceil(capLeft[items[list[0]!]!.layer]!)));
  }
  candidates.sort((a, b) => {
    const ia = items[a]!;
    const ib = items[b]!;
    return ia.lambda / ia.cost - ib.lambda / ib.cost || a - b;
  });
  for (const i of candidates) {
    const item = items[i]!;
    const g = item.group ?? 0;
    const room = Math.min(1, capLeft[item.layer]!, (groupBudgets[g]! - used[g]!) / item.cost);
    if (room <= 0) continue;
    beta[i] = room;
    used[g] = used[g]! + room * item.cost;
    capLeft[item.layer] = capLeft[item.layer]! - room;
  }
  let objective = 0;
  for (let i = 0; i < items.length; i++) objective += beta[i]! * items[i]!.lambda;
  return { beta, objective, used };
}

/** Indices with β ≥ `threshold` (the code's rounding: 0.99 on CIFAR, 0.9 on ImageNet), ascending. */
export function selectByBeta(beta: ArrayLike<number>, threshold = 0.99): number[] {
  const out: number[] = [];
  for (let i = 0; i < beta.length; i++) if (beta[i]! >= threshold) out.push(i);
  return out;
}
