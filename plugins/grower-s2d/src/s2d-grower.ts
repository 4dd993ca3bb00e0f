import type { JSONSchemaType } from 'ajv';
import { inject, injectable } from '@mitosis/core/di';
import {
  EigenSolverRegistry,
  type GrowthContext,
  type GrowthPlan,
  type Grower,
  type GrowerContribution,
  type NeuronGrowth,
} from '@mitosis/core';
import {
  lambdaMinSummary,
  layerRoom,
  layerStats,
  selectCandidates,
  solveSplittingEigen,
  unitRow,
  type Candidate,
} from '@mitosis/grower-kit';

/** Options of the S2D grower; {@link s2dOptionsSchema} gives the defaults (the reference set-up, §2.4–2.8). */
export interface S2dOptions {
  /** Installed eigen solver computing λ_min, v_min (`dense`: exact, like the reference's `eig`). */
  readonly solver: string;
  /** Options passed to that solver, validated by its own schema. */
  readonly solverOptions: Record<string, unknown>;
  /** `quantile`: the reference's strict global quantile; `top-k`: the k most negative λ_min. */
  readonly selection: 'quantile' | 'top-k';
  /** Quantile rule: thre = sorted(λ)[floor(fraction·N)] over all N neurons, grow λ < thre (reference 0.3). */
  readonly fraction: number;
  /** Top-k rule: neurons grown per round. */
  readonly k: number;
  /** Grow only neurons with λ_min < 0 (the reference code has no such test). */
  readonly requireNegative: boolean;
  /** Step size ε along the unit eigenvector (reference 0.01). */
  readonly epsilon: number;
}

export const s2dOptionsSchema: JSONSchemaType<S2dOptions> = {
  type: 'object',
  properties: {
    solver: { type: 'string', minLength: 1, default: 'dense' },
    solverOptions: { type: 'object', required: [], additionalProperties: true, default: {} },
    selection: { type: 'string', enum: ['quantile', 'top-k'], default: 'quantile' },
    fraction: { type: 'number', minimum: 0, maximum: 1, default: 0.3 },
    k: { type: 'integer', minimum: 1, default: 1 },
    requireNegative: { type: 'boolean', default: true },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.01 },
  },
  required: ['solver', 'solverOptions', 'selection', 'fraction', 'k', 'requireNegative', 'epsilon'],
  additionalProperties: false,
};

/**
 * Splitting steepest descent (Liu, Wu, Wang; algorithms.md §2): λ_min, v_min of every neuron's splitting
 * matrix, a global selection (quantile or top-k) within the per-layer caps, and the symmetric split
 * θ ± εv_min with outgoing weights ½, ½ (predicted ΔL = ε²/2·λ_min per neuron, additive over neurons).
 */
export class S2dGrower implements Grower {
  readonly id = 's2d';

  constructor(
    private readonly options: S2dOptions,
    private readonly solvers: EigenSolverRegistry,
  ) {
    // Fail when the run is set up, before any training: an unknown solver or bad solver options.
    solvers.options(options.solver, options.solverOptions);
  }

  async plan(context: GrowthContext): Promise<GrowthPlan> {
    const { options } = this;
    const room = layerRoom(context);
    const results = await solveSplittingEigen(this.solvers, options.solver, options.solverOptions, context);
    const candidates: Candidate[] = [];
    results.forEach((r, layer) => {
      for (let neuron = 0; neuron < r.neurons; neuron++) {
        candidates.push({ layer, neuron, score: r.lambdaMin[neuron]!, added: 1 });
      }
    });
    const rule =
      options.selection === 'quantile'
        ? { selection: 'quantile' as const, fraction: options.fraction }
        : { selection: 'top-k' as const, k: options.k };
    const selection = selectCandidates(candidates, rule, room, options.requireNegative);
    const eps = options.epsilon;
    const entries: NeuronGrowth[] = selection.chosen.map((c) => {
      const r = results[c.layer]!;
      const v = unitRow(r.vMin, c.neuron, r.dim);
      return {
        node: context.layers[c.layer]!.node,
        neuron: c.neuron,
        offspring: [
          { weight: 0.5, direction: v },
          { weight: 0.5, direction: v.map((x) => -x) },
        ],
        scheme: 's2d',
        score: c.score,
        predictedDeltaLoss: ((eps * eps) / 2) * c.score,
        cost: context.layers[c.layer]!.marginalCost,
      };
    });
    const costs = entries.map((e) => e.cost);
    return {
      grower: this.id,
      round: context.round,
      epsilon: eps,
      entries,
      predictedDeltaLoss: entries.reduce((s, e) => s + (e.predictedDeltaLoss ?? 0), 0),
      stats: {
        solver: options.solver,
        selection: options.selection,
        threshold: selection.threshold,
        lambdaMin: lambdaMinSummary(results),
        maxResidualMin: results.reduce((m, r) => r.residualMin.reduce((a, x) => Math.max(a, x), m), 0),
        droppedByCap: selection.droppedByCap,
        droppedNonNegative: selection.droppedNonNegative,
        addedCost: costs.some((c) => c === null) ? null : costs.reduce<number>((s, c) => s + (c ?? 0), 0),
        costUnit: context.costUnit,
        budget: { available: context.budget, used: null, note: 's2d grows by count and does not spend a budget' },
        layers: layerStats(context, selection.chosen, results),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh grower per run. */
@injectable()
export class S2dGrowerContribution implements GrowerContribution<S2dOptions> {
  readonly id = 's2d';
  readonly description = 'Splitting steepest descent: split the neurons with the most negative λ_min along ±ε·v_min';
  readonly optionsSchema = s2dOptionsSchema;

  constructor(@inject(EigenSolverRegistry) private readonly solvers: EigenSolverRegistry) {}

  create(options: S2dOptions): Grower {
    return new S2dGrower(options, this.solvers);
  }
}
