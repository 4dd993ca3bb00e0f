import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { MethodContext, PrunePlan, Pruner, PrunerContribution, ScoreRequest } from '@mitosis/core';
import { channelScores, divideByMean, layerDetails, rankGlobally, rankUniformly, removals } from './ranking.js';

/** Options of `prune-l1`; {@link l1OptionsSchema} gives the defaults. */
export interface L1PrunerOptions {
  /**
   * `global`: one ranking of every channel by its L1 norm divided by its layer's mean L1 norm; `uniform`: the
   * same share of every layer, lowest-norm channels of each layer first.
   */
  readonly mode: 'global' | 'uniform';
}

/** JSON Schema of {@link L1PrunerOptions}; its defaults are the reference set-up. */
export const l1OptionsSchema: JSONSchemaType<L1PrunerOptions> = {
  type: 'object',
  properties: {
    mode: { type: 'string', enum: ['global', 'uniform'], default: 'global' },
  },
  required: ['mode'],
  additionalProperties: false,
};

/**
 * L1-norm filter pruning (Li, Kadav, Durdanovic, Samet, Graf, ICLR 2017; algorithms.md §6.2). A channel's
 * importance is the L1 norm of its incoming weights (the loop's `weightNorm` with norm 1: the mean |w|, which is
 * the paper's Σ|w| divided by the layer's fan-in, a per-layer constant). The paper keeps, per layer, the filters
 * of largest norm and sets per-layer counts by sensitivity analysis; here the plan policy decides how much to
 * remove, so the pruner offers two orderings:
 * - `global`: every channel of every layer, by norm / (mean norm of its layer), ascending. The per-layer
 *   divisor makes layers of different fan-in and weight scale comparable; the mean is used rather than the
 *   max so that one outlying filter does not push the rest of its layer to the front.
 * - `uniform`: the same fraction from every layer (see {@link rankUniformly}), the closest ordering to the
 *   paper's fixed per-layer pruning ratios when no sensitivity analysis is available.
 */
export class L1Pruner implements Pruner {
  readonly id = 'prune-l1';
  readonly needs: readonly ScoreRequest[] = [{ kind: 'weightNorm', norm: 1 }];

  constructor(private readonly options: L1PrunerOptions) {}

  async plan(context: MethodContext): Promise<PrunePlan> {
    const norms = channelScores(context, 'weightNorm', this.id);
    const global = this.options.mode === 'global';
    const normalised = norms.map(divideByMean);
    const ranked = global ? rankGlobally(normalised.map((n) => n.values)) : rankUniformly(norms);
    return {
      action: 'prune',
      method: this.id,
      round: context.round,
      entries: removals(context, ranked),
      details: {
        mode: this.options.mode,
        score: global ? 'weightNorm(1) / layer mean' : 'share of the layer removed, by ascending weightNorm(1)',
        layers: layerDetails(context, norms, global ? normalised.map((n) => n.scale) : [], () => 'weightNorm'),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh `prune-l1` pruner per run. */
@injectable()
export class L1PrunerContribution implements PrunerContribution<L1PrunerOptions> {
  readonly id = 'prune-l1';
  readonly description = 'L1-norm filter pruning (Li et al. 2017): remove the channels of smallest incoming L1 norm';
  readonly optionsSchema = l1OptionsSchema;

  create(options: L1PrunerOptions): Pruner {
    return new L1Pruner(options);
  }
}
