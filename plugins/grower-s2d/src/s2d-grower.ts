import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { GrowthPlan, Grower, GrowerContribution, MethodContext, ScoreRequest } from '@mitosis/core';
import {
  lambdaMinSummary,
  layerRoom,
  layerStats,
  selectCandidates,
  splittingCandidates,
  splittingScores,
  symmetricSplit,
  unitRow,
} from '@mitosis/grower-kit';

/** Options of the S2D grower; {@link s2dOptionsSchema} gives the defaults (the reference set-up, §2.4–2.8). */
export interface S2dOptions {
  /**
   * Installed eigen solver the loop runs for this grower to compute λ_min, v_min (`dense`: exact, like the
   * reference's `eig`).
   */
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
 * Splitting steepest descent (Liu, Wu, Wang; algorithms.md §2): from the λ_min, v_min of every neuron's
 * splitting matrix (computed by the loop with the solver named in the options), a global selection (quantile
 * or top-k) within the per-layer caps, and the symmetric split θ ± εv_min with outgoing weights ½, ½ (predicted
 * ΔL = ε²/2·λ_min per neuron, additive over neurons). Layers that are not splittable are skipped.
 */
export class S2dGrower implements Grower {
  readonly id = 's2d';
  readonly needs: readonly ScoreRequest[];

  constructor(private readonly options: S2dOptions) {
    this.needs = [{ kind: 'splitting', solver: options.solver, solverOptions: options.solverOptions }];
  }

  async plan(context: MethodContext): Promise<GrowthPlan> {
    const { options } = this;
    const room = layerRoom(context);
    const results = splittingScores(context, this.id);
    const rule =
      options.selection === 'quantile'
        ? { selection: 'quantile' as const, fraction: options.fraction }
        : { selection: 'top-k' as const, k: options.k };
    const selection = selectCandidates(splittingCandidates(context, results), rule, room, options.requireNegative);
    const eps = options.epsilon;
    const entries = selection.chosen.map((c) => {
      const r = results[c.layer]!;
      const layer = context.layers[c.layer]!;
      return symmetricSplit(layer.node, c.neuron, unitRow(r.vMin, c.neuron, r.dim), eps, c.score, layer.marginalCost);
    });
    let maxResidualMin = 0;
    results.forEach((r, b) => {
      if (context.layers[b]!.splittable) maxResidualMin = r.residualMin.reduce((a, x) => Math.max(a, x), maxResidualMin);
    });
    return {
      action: 'grow',
      method: this.id,
      round: context.round,
      epsilon: eps,
      entries,
      predictedDeltaLoss: entries.reduce((s, e) => s + (e.predictedDeltaLoss ?? 0), 0),
      details: {
        solver: options.solver,
        selection: options.selection,
        threshold: selection.threshold,
        lambdaMin: lambdaMinSummary(results, context.layers),
        maxResidualMin,
        droppedByCap: selection.droppedByCap,
        droppedNonNegative: selection.droppedNonNegative,
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

  create(options: S2dOptions): Grower {
    return new S2dGrower(options);
  }
}
