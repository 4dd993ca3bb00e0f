import {
  NasError,
  type ChannelPlan,
  type CostModel,
  type CostUnit,
  type CostModelRegistry,
  type MethodKind,
  type MethodLayer,
  type NetworkSpec,
  type WeightMap,
} from '@mitosis/core';
import { applyGrowthPlan, initWeights, pruneChannels } from '@mitosis/ir';
import { costModelForUnit } from './budget.js';
import { resizeSpec } from './method-layers.js';

/**
 * The small, pure stages of a run's rounds (the loop in `run-method.ts` strings them together): why a run
 * stops before a round, how much of the budget a round may spend, and applying a checked plan.
 */

/** Why a run stops before its next round, or `null` to go on. */
export type RoundStop = 'budget' | 'caps' | 'min-widths' | null;

/**
 * Growers stop when the cost has reached the target or when no layer has room under its cap (or the room
 * left is too small to buy one channel anywhere); pruners stop when the cost is at or below the target, or
 * every layer is at its minimum width.
 */
export function roundStop(kind: MethodKind, layers: readonly MethodLayer[], cost: number | null, target: number | null): RoundStop {
  if (kind === 'grower') {
    if (target !== null && cost !== null) {
      if (cost >= target) return 'budget';
      const cheapest = Math.min(...layers.filter((l) => l.cap === null || l.width < l.cap).map((l) => Math.max(0, l.marginalCost ?? Number.POSITIVE_INFINITY)));
      if (Number.isFinite(cheapest) && cheapest > target - cost) return 'budget';
    }
    if (layers.every((l) => l.cap !== null && l.width >= l.cap)) return 'caps';
    return null;
  }
  if (kind === 'pruner') {
    if (target !== null && cost !== null && cost <= target) return 'budget';
    if (layers.every((l) => l.width <= l.min)) return 'min-widths';
  }
  return null;
}

/**
 * A round's allowance under the budget schedule: an equal share of what is left to add (growers) or to remove
 * (pruners) over the rounds left, so the last round aims at the target itself. `null` without a target.
 */
export function roundBudget(kind: MethodKind, cost: number | null, target: number | null, roundsLeft: number): number | null {
  if (target === null || cost === null || roundsLeft <= 0) return null;
  const gap = kind === 'pruner' ? cost - target : target - cost;
  return Math.max(0, gap) / roundsLeft;
}

/**
 * Applies a plan that passed the policy: a growth through the splitting surgery (with ε scaled by
 * `epsilonScale`, halved on a retry after divergence), a pruning by removing the ranked channels, a resize by
 * re-initialising the resized network from `seed` (a from-scratch start).
 */
export function applyPlan(
  spec: NetworkSpec,
  weights: WeightMap,
  plan: ChannelPlan,
  options: { readonly epsilonScale?: number; readonly seed?: number } = {},
): { spec: NetworkSpec; weights: WeightMap } {
  switch (plan.action) {
    case 'grow':
      return applyGrowthPlan(spec, weights, { ...plan, epsilon: plan.epsilon * (options.epsilonScale ?? 1) });
    case 'prune': {
      const byNode = new Map<string, number[]>();
      for (const e of plan.entries) {
        let list = byNode.get(e.node);
        if (list === undefined) byNode.set(e.node, (list = []));
        list.push(e.channel);
      }
      return byNode.size === 0 ? { spec, weights } : pruneChannels(spec, weights, byNode);
    }
    case 'resize': {
      const resized = resizeSpec(spec, plan.widths);
      return { spec: resized, weights: initWeights(resized, options.seed ?? 0) };
    }
  }
}

/** The cost models of a run: macs and params always; latency and energy when a profile is given. One per unit. */
export function createCostModels(registry: CostModelRegistry, profile: string | undefined): Map<CostUnit, CostModel> {
  const models = new Map<CostUnit, CostModel>();
  for (const c of registry.all()) {
    if (c.requiresProfile && profile === undefined) continue;
    if ([...models.values()].some((m) => m.unit === c.unit)) continue; // the first installed model of a unit prices it
    const model = registry.create(c.id, c.requiresProfile ? { profile } : {});
    models.set(model.unit, model);
  }
  return models;
}

/** The run's budget unit's model, or `E_UNIT_MISMATCH` saying what is missing. */
export function primaryCostModel(models: ReadonlyMap<CostUnit, CostModel>, unit: CostUnit, profile: string | undefined): CostModel {
  const model = models.get(unit);
  if (model === undefined) {
    const have = [...models.keys()];
    throw new NasError(
      'E_UNIT_MISMATCH',
      `No cost model measures ${unit} here (${costModelForUnit(unit)} ${profile === undefined ? 'needs --profile' : 'is not installed'}); available units: ${have.join(', ')}`,
      { unit, available: have },
    );
  }
  return model;
}

/** Cost of a network under every cost model of the run, keyed by unit (`null` where a model cannot price it). */
export function priceAll(models: ReadonlyMap<CostUnit, CostModel>, spec: NetworkSpec): Partial<Record<CostUnit, number | null>> {
  const out: Partial<Record<CostUnit, number | null>> = {};
  for (const [unit, model] of models) out[unit] = model.estimate(spec).total;
  return out;
}

/**
 * Checks, before any training, that the budget can be met by this kind of method starting from `start`:
 * a grower's target must not be below the start's cost, a pruner's not above it (nor below the smallest
 * network its minimum widths allow), a shrinker's below it (and not below the cheapest one-node cell); `E_BUDGET_INFEASIBLE` otherwise, naming both costs.
 */
export function checkBudgetFeasible(
  kind: MethodKind,
  start: { readonly cost: number | null; readonly floor: number | null },
  target: number | null,
  unit: CostUnit,
  method: string,
): void {
  if (target === null) return;
  if (start.cost === null) {
    throw new NasError('E_UNIT_MISMATCH', `The cost model for ${unit} cannot price the start network of ${method}; choose another unit or profile`, { unit, method });
  }
  const show = (x: number): string => `${Number(x.toPrecision(4))} ${unit}`;
  if (kind === 'grower' && target < start.cost) {
    throw new NasError('E_BUDGET_INFEASIBLE', `The budget ${show(target)} is below the seed network's cost ${show(start.cost)}: a grower cannot meet it (raise the budget or use a pruner)`, {
      method,
      target,
      start: start.cost,
      unit,
    });
  }
  if (kind === 'shrinker') {
    if (target >= start.cost) {
      throw new NasError('E_BUDGET_INFEASIBLE', `The budget ${show(target)} is not below the start cell's cost ${show(start.cost)}: there is no edge to remove (lower the budget)`, {
        method,
        target,
        start: start.cost,
        unit,
      });
    }
    if (start.floor !== null && target < start.floor) {
      throw new NasError('E_BUDGET_INFEASIBLE', `The budget ${show(target)} is below the cheapest cell an edge removal can reach (one node between input and output, ${show(start.floor)})`, {
        method,
        target,
        floor: start.floor,
        unit,
      });
    }
  }
  if (kind === 'pruner') {
    if (target > start.cost) {
      throw new NasError('E_BUDGET_INFEASIBLE', `The budget ${show(target)} is above the full network's cost ${show(start.cost)}: there is nothing to prune (lower the budget or use a grower)`, {
        method,
        target,
        start: start.cost,
        unit,
      });
    }
    if (start.floor !== null && target < start.floor) {
      throw new NasError('E_BUDGET_INFEASIBLE', `The budget ${show(target)} is below the smallest network the layers' minimum widths allow (${show(start.floor)})`, {
        method,
        target,
        floor: start.floor,
        unit,
      });
    }
  }
}
