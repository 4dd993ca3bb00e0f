import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  COST_TRANSFORMS,
  COST_UNITS,
  NasError,
  transformCost,
  type CostTransform,
  type CostUnit,
  type GrowthPlan,
  type Grower,
  type GrowerContribution,
  type MethodContext,
  type ScoreRequest,
} from '@mitosis/core';
import {
  knapsackGreedy,
  lambdaMinSummary,
  layerRoom,
  layerStats,
  selectByBeta,
  splittingScores,
  symmetricSplit,
  unitRow,
  type Candidate,
  type KnapsackItem,
} from '@mitosis/grower-kit';

/** Options of the energy-aware grower; {@link energyAwareOptionsSchema} gives the defaults. */
export interface EnergyAwareOptions {
  /**
   * Installed eigen solver the loop runs for this grower to estimate λ_min, v_min. Default `lanczos`: full-data
   * Krylov on the same one-pass S·v products. The reference's stochastic solver is `rayleigh`; at the shipped
   * scoring budgets it reached the loop's residual tolerance on none of the neurons (56 of 56 on
   * convnet-fashion, 272 of 272 on mobilenetv1-cifar), so every neuron was solved a second time by the
   * loop's lanczos retry and the round paid for both (docs/training-speed.md).
   */
  readonly solver: string;
  /** Options passed to that solver, validated by its own schema. */
  readonly solverOptions: Record<string, unknown>;
  /** Step size ε along the unit eigenvector (reference MobileNetV1: 0.01; MobileNetV2: 0.1). */
  readonly epsilon: number;
  /**
   * Budget rule when the context gives no budget: B_g = grow × Σ_{l∈g} C_l·c_l, the cost of growing a
   * fraction `grow` of every layer of group g.
   */
  readonly grow: number;
  /**
   * c_l = f(Δcost) under the reference budget rule ({@link transformCost}): `sqrt` (reference CIFAR-100),
   * `log` = ln(1 + Δcost) (reference ImageNet uses ln), `linear`. A budget given by the run (`--budget 5ms`) is
   * spent in the cost model's own unit, so the knapsack then uses the untransformed Δcost whatever this option
   * says.
   */
  readonly costTransform: CostTransform;
  /**
   * With a run budget (`--budget`), neurons are ranked by λ / f(Δcost) with this transform while the budget is
   * spent in the cost model's own unit: `linear` (default, the LP optimum) ranks by λ per unit of cost; `sqrt`
   * and `log` weigh cost less, so cheap layers (a dense layer's MACs) absorb less of the budget.
   */
  readonly budgetRanking: CostTransform;
  /** Grow the neurons whose LP weight β ≥ this (reference: 0.99 on CIFAR, 0.9 on ImageNet). */
  readonly betaThreshold: number;
  /**
   * `fill` (default): after rounding, neurons left out are offered the budget the rounding freed, in the same
   * λ/c order, each taken if it fits (an integral greedy pass). `threshold`: the reference rounding alone, which
   * can leave most of a round's budget unspent when one expensive neuron ends fractional (β just under the
   * threshold) ahead of cheaper ones — measured on convnet-mnist at 400k MACs: 89 % of the budget spent
   * instead of 99 %.
   */
  readonly rounding: 'fill' | 'threshold';
  /** Unless `any`, the context's cost unit must be this one (`E_UNIT_MISMATCH` otherwise). */
  readonly costUnit: CostUnit | 'any';
}

export const energyAwareOptionsSchema: JSONSchemaType<EnergyAwareOptions> = {
  type: 'object',
  properties: {
    solver: { type: 'string', minLength: 1, default: 'lanczos' },
    solverOptions: { type: 'object', required: [], additionalProperties: true, default: {} },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
    grow: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.2 },
    costTransform: { type: 'string', enum: [...COST_TRANSFORMS], default: 'sqrt' },
    budgetRanking: { type: 'string', enum: [...COST_TRANSFORMS], default: 'linear' },
    betaThreshold: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.99 },
    rounding: { type: 'string', enum: ['fill', 'threshold'], default: 'fill' },
    costUnit: { type: 'string', enum: ['any', ...COST_UNITS], default: 'any' },
  },
  required: ['solver', 'solverOptions', 'epsilon', 'grow', 'costTransform', 'budgetRanking', 'betaThreshold', 'rounding', 'costUnit'],
  additionalProperties: false,
};

/** A budget group's line in `details.budget.groups`. */
interface GroupBudget {
  readonly group: string;
  readonly layers: string[];
  readonly budget: number;
  /** Σ β_i c_i of the LP solution. */
  readonly usedLp: number;
  /** Σ c_i over the neurons actually grown (β ≥ threshold). */
  readonly used: number;
}

/**
 * Energy-aware fast splitting (Wang et al.; algorithms.md §3.3–3.5): λ_min per neuron from the (stochastic)
 * eigen solver the loop runs for this grower, then the knapsack min Σ β_i λ_i s.t. Σ β_i c_i ≤ B_g per group,
 * per-layer caps, 0 ≤ β ≤ 1, solved exactly by the greedy of §3.3 and rounded at β ≥ `betaThreshold`. Grown
 * neurons split into θ ± εv_min with outgoing weights ½, ½. Layers that are not splittable take no part (no
 * items, no share of a group budget, no marginal cost needed). The plan is not trimmed after the knapsack: the
 * loop's plan policy enforces the round's budget.
 */
export class EnergyAwareGrower implements Grower {
  readonly id = 'energy-aware';
  readonly needs: readonly ScoreRequest[];

  constructor(private readonly options: EnergyAwareOptions) {
    this.needs = [{ kind: 'splitting', solver: options.solver, solverOptions: options.solverOptions }];
  }

  async plan(context: MethodContext): Promise<GrowthPlan> {
    const { options } = this;
    const unit = context.costUnit;
    if (context.costModel.unit !== unit) {
      throw new NasError(
        'E_UNIT_MISMATCH',
        `energy-aware: the growth context prices in ${unit} but its cost model "${context.costModel.id}" returns ` +
          `${context.costModel.unit}; budgets and marginal costs must share one unit`,
        { grower: this.id, contextUnit: unit, costModelUnit: context.costModel.unit },
      );
    }
    if (options.costUnit !== 'any' && options.costUnit !== unit) {
      throw new NasError(
        'E_UNIT_MISMATCH',
        `energy-aware was configured for costs in ${options.costUnit} but the run prices in ${unit} ` +
          `(cost model "${context.costModel.id}"); change the grower's costUnit option or the cost model`,
        { grower: this.id, expected: options.costUnit, actual: unit },
      );
    }
    if (context.budget !== null) {
      if (!(context.budget >= 0) || !Number.isFinite(context.budget)) {
        throw new NasError('E_CONFIG_INVALID', `energy-aware: the round budget must be a finite number ≥ 0, got ${context.budget} ${unit}`, {
          grower: this.id,
          budget: context.budget,
        });
      }
    }
    const transform: CostTransform = context.budget === null ? options.costTransform : 'linear';
    const room = layerRoom(context);
    // c_l of every splittable layer; `null` for a layer that is not splittable (it takes no part).
    const costs = context.layers.map((layer): number | null => {
      if (!layer.splittable) return null;
      const m = layer.marginalCost;
      if (m === null || !Number.isFinite(m)) {
        throw new NasError(
          'E_CONFIG_INVALID',
          `energy-aware needs the marginal cost of every growable layer, but cost model "${context.costModel.id}" ` +
            `could not price one more channel of "${layer.node}" (${m} ${unit})`,
          { grower: this.id, node: layer.node, marginalCost: m },
        );
      }
      // A channel that costs nothing (or, with a non-monotonic latency table, less than nothing) is free:
      // transformCost counts a negative Δ as 0.
      return transformCost(m, transform);
    });

    // Budget groups: one pool for a context budget; the layers' groups under the reference rule.
    const groupNames: string[] = [];
    const groupOf = context.layers.map((layer, l): number | null => {
      if (costs[l] === null) return null;
      const name = context.budget === null ? layer.group : 'all';
      let g = groupNames.indexOf(name);
      if (g < 0) g = groupNames.push(name) - 1;
      return g;
    });
    const budgets = groupNames.map((_, g) => {
      if (context.budget !== null) return context.budget;
      let sum = 0;
      context.layers.forEach((layer, l) => {
        if (groupOf[l] === g) sum += layer.width * costs[l]!;
      });
      return options.grow * sum;
    });

    const results = splittingScores(context, this.id);

    // Free layers (c_l = 0) grow their most negative neurons up to the cap; the rest go through the knapsack.
    const items: KnapsackItem[] = [];
    const itemRef: { layer: number; neuron: number }[] = [];
    const chosen: Candidate[] = [];
    results.forEach((r, l) => {
      const cost = costs[l] ?? null;
      if (cost === null) return;
      if (cost > 0) {
        for (let j = 0; j < r.neurons; j++) {
          const rankCost = context.budget === null || options.budgetRanking === 'linear' ? cost : transformCost(cost, options.budgetRanking);
          items.push({ lambda: r.lambdaMin[j]!, layer: l, cost, group: groupOf[l]!, ...(rankCost === cost || !(rankCost > 0) ? {} : { rankCost }) });
          itemRef.push({ layer: l, neuron: j });
        }
        return;
      }
      const negative = Array.from(r.lambdaMin, (lambda, neuron) => ({ lambda, neuron }))
        .filter((x) => x.lambda < 0)
        .sort((a, b) => a.lambda - b.lambda || a.neuron - b.neuron);
      for (const x of negative.slice(0, Math.min(negative.length, room[l]!))) {
        chosen.push({ layer: l, neuron: x.neuron, score: x.lambda, added: 1 });
      }
    });
    const lp = knapsackGreedy(items, budgets, room);
    const taken = new Set(selectByBeta(lp.beta, options.betaThreshold));
    let filled = 0;
    if (options.rounding === 'fill') {
      // Offer what the rounding freed to the neurons left out, best λ/c first, each taken if it fits whole.
      const left = budgets.map((b, g) => b - [...taken].filter((i) => items[i]!.group === g).reduce((sum, i) => sum + items[i]!.cost, 0));
      const roomLeft = room.map((r, l) => r - [...taken].filter((i) => items[i]!.layer === l).length - chosen.filter((c) => c.layer === l).length);
      const order = items
        .map((item, i) => ({ item, i }))
        .filter(({ item, i }) => !taken.has(i) && item.lambda < 0)
        .sort((a, b) => a.item.lambda / (a.item.rankCost ?? a.item.cost) - b.item.lambda / (b.item.rankCost ?? b.item.cost) || a.i - b.i);
      for (const { item, i } of order) {
        const g = item.group ?? 0;
        if (item.cost > left[g]! + 1e-12 || roomLeft[item.layer]! < 1) continue;
        left[g] = left[g]! - item.cost;
        roomLeft[item.layer] = roomLeft[item.layer]! - 1;
        taken.add(i);
        filled++;
      }
    }
    for (const i of [...taken].sort((a, b) => a - b)) {
      const ref = itemRef[i]!;
      chosen.push({ layer: ref.layer, neuron: ref.neuron, score: items[i]!.lambda, added: 1 });
    }
    chosen.sort((a, b) => a.layer - b.layer || a.neuron - b.neuron);

    const eps = options.epsilon;
    const entries = chosen.map((c) => {
      const r = results[c.layer]!;
      const layer = context.layers[c.layer]!;
      return symmetricSplit(layer.node, c.neuron, unitRow(r.vMin, c.neuron, r.dim), eps, c.score, layer.marginalCost);
    });

    const groups: GroupBudget[] = groupNames.map((group, g) => ({
      group,
      layers: context.layers.filter((_, l) => groupOf[l] === g).map((layer) => layer.node),
      budget: budgets[g]!,
      usedLp: lp.used[g]!,
      used: chosen.filter((c) => groupOf[c.layer] === g).reduce((s, c) => s + costs[c.layer]!, 0),
    }));
    const fractional = Array.from(lp.beta).filter((b) => b > 0 && b < options.betaThreshold).length;
    return {
      action: 'grow',
      method: this.id,
      round: context.round,
      epsilon: eps,
      entries,
      predictedDeltaLoss: entries.reduce((s, e) => s + (e.predictedDeltaLoss ?? 0), 0),
      details: {
        solver: options.solver,
        lambdaMin: lambdaMinSummary(results, context.layers),
        budget: {
          source: context.budget === null ? 'grow-rule' : 'context',
          unit: transform === 'linear' ? unit : `${transform}(${unit})`,
          grow: context.budget === null ? options.grow : null,
          available: budgets.reduce((s, b) => s + b, 0),
          used: groups.reduce((s, g) => s + g.used, 0),
          groups,
        },
        lp: { objective: lp.objective, fractional, betaThreshold: options.betaThreshold, rounding: options.rounding, filled },
        freeLayers: context.layers.filter((_, l) => costs[l] === 0).map((layer) => layer.node),
        layers: layerStats(context, chosen, results),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh grower per run. */
@injectable()
export class EnergyAwareGrowerContribution implements GrowerContribution<EnergyAwareOptions> {
  readonly id = 'energy-aware';
  readonly description =
    'Energy-aware fast splitting: knapsack of λ_min per unit of device cost under a round budget, per-layer caps';
  readonly optionsSchema = energyAwareOptionsSchema;

  create(options: EnergyAwareOptions): Grower {
    return new EnergyAwareGrower(options);
  }
}
