import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { MethodContext, PrunePlan, Pruner, PrunerContribution, ScoreRequest } from '@mitosis/core';
import { channelScores, divideByL2, layerDetails, rankGlobally, removals } from './ranking.js';

/** Options of `prune-taylor`; {@link taylorOptionsSchema} gives the defaults. */
export interface TaylorPrunerOptions {
  /**
   * `none`: rank the importances as they are (the reference: every configuration of `NVlabs/Taylor_pruning`
   * sets `l2_normalization_per_layer: false`, and the paper's point is that the squared-loss-change estimate is
   * on one scale across layers); `layer`: divide each layer's importances by their Euclidean norm first (the
   * reference's optional per-layer ℓ2 normalisation, from Molchanov et al.'s 2017 criterion).
   */
  readonly normalise: 'none' | 'layer';
}

/** JSON Schema of {@link TaylorPrunerOptions}; its defaults are the reference set-up. */
export const taylorOptionsSchema: JSONSchemaType<TaylorPrunerOptions> = {
  type: 'object',
  properties: {
    normalise: { type: 'string', enum: ['none', 'layer'], default: 'none' },
  },
  required: ['normalise'],
  additionalProperties: false,
};

/**
 * First-order Taylor importance pruning (Molchanov, Mallya, Tyree, Frosio, Kautz, CVPR 2019, "Importance
 * Estimation for Neural Network Pruning"). The loop computes each channel's importance (Σ_{params of the
 * channel} w·∂L/∂w)² per minibatch, averaged over the scoring set (the `taylor` score: on the batch-norm γ, β
 * when the channel has one, the paper's best "Taylor FO on BN"); the pruner ranks every channel of every layer
 * by it, ascending. The reference smooths importances across pruning iterations with momentum 0.9; a plan
 * here depends only on its round's context, so there is no smoothing (each round's scores are fresh averages).
 */
export class TaylorPruner implements Pruner {
  readonly id = 'prune-taylor';
  readonly needs: readonly ScoreRequest[] = [{ kind: 'taylor' }];

  constructor(private readonly options: TaylorPrunerOptions) {}

  async plan(context: MethodContext): Promise<PrunePlan> {
    const importance = channelScores(context, 'taylor', this.id);
    const normalised = this.options.normalise === 'layer' ? importance.map(divideByL2) : null;
    const ranked = rankGlobally(normalised === null ? importance : normalised.map((n) => n.values));
    return {
      action: 'prune',
      method: this.id,
      round: context.round,
      entries: removals(context, ranked),
      details: {
        normalise: this.options.normalise,
        score: normalised === null ? 'taylor' : 'taylor / ‖taylor of the layer‖₂',
        layers: layerDetails(context, importance, normalised?.map((n) => n.scale) ?? [], () => 'taylor'),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh `prune-taylor` pruner per run. */
@injectable()
export class TaylorPrunerContribution implements PrunerContribution<TaylorPrunerOptions> {
  readonly id = 'prune-taylor';
  readonly description =
    'Taylor importance pruning (Molchanov et al. 2019): remove the channels whose removal changes the loss least';
  readonly optionsSchema = taylorOptionsSchema;

  create(options: TaylorPrunerOptions): Pruner {
    return new TaylorPruner(options);
  }
}
