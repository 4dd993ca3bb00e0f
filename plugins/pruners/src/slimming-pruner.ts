import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type MethodContext,
  type MethodTraining,
  type PrunePlan,
  type Pruner,
  type PrunerContribution,
  type ScoreRequest,
} from '@mitosis/core';
import { batchNormScales, channelScores, divideByMean, layerDetails, rankGlobally, removals } from './ranking.js';

/** Options of `prune-slimming`; {@link slimmingOptionsSchema} gives the defaults. */
export interface SlimmingPrunerOptions {
  /**
   * λ of the L1 penalty λ·Σ|γ| on every batch-norm scale during training (the loop's `bnScaleL1`); 0 turns the
   * sparsity training off. Reference 1e-4: the value of `Eric-mingjie/network-slimming` for VGG on CIFAR
   * (1e-5 for ResNet-164 and DenseNet-40; algorithms.md §6.3).
   */
  readonly sparsity: number;
}

/** JSON Schema of {@link SlimmingPrunerOptions}; its defaults are the reference set-up. */
export const slimmingOptionsSchema: JSONSchemaType<SlimmingPrunerOptions> = {
  type: 'object',
  properties: {
    sparsity: { type: 'number', minimum: 0, default: 1e-4 },
  },
  required: ['sparsity'],
  additionalProperties: false,
};

/**
 * Network slimming (Liu, Li, Shen, Huang, Yan, Zhang, ICCV 2017; algorithms.md §6.3). The loop trains with an
 * L1 penalty on the batch-norm scales ({@link SlimmingPruner.training}); the pruner then pools |γ| over all
 * batch-norm layers, unnormalised as in the reference code, and ranks every channel by it, ascending.
 *
 * Layers without a batch norm: the reference never prunes them. Here their channels are ranked **after** every
 * γ-ranked channel, among themselves by weight L1 norm divided by their layer's mean (as `prune-l1` global),
 * so the plan policy reaches them only once the batch-norm layers are at their minimum widths and a cost target
 * stays reachable. A network with no batch norm at all is refused (`E_CONFIG_INVALID`): slimming would silently
 * become L1-norm pruning there, so use `prune-l1` instead.
 */
export class SlimmingPruner implements Pruner {
  readonly id = 'prune-slimming';
  readonly needs: readonly ScoreRequest[] = [{ kind: 'bnScale' }, { kind: 'weightNorm', norm: 1 }];
  readonly training?: MethodTraining;

  constructor(private readonly options: SlimmingPrunerOptions) {
    if (options.sparsity > 0) this.training = { bnScaleL1: options.sparsity };
  }

  async plan(context: MethodContext): Promise<PrunePlan> {
    const gammas = batchNormScales(context, this.id);
    const withBn = context.layers.map((_, i) => i).filter((i) => gammas[i] !== null);
    const withoutBn = context.layers.map((_, i) => i).filter((i) => gammas[i] === null);
    if (withBn.length === 0 && context.layers.length > 0) {
      throw new NasError(
        'E_CONFIG_INVALID',
        `Pruner "${this.id}": no prunable layer of the network has a batch norm (${context.layers.map((l) => l.node).join(', ')}); ` +
          'network slimming ranks channels by batch-norm scales, so use "prune-l1" for this search space',
        { pruner: this.id, layers: context.layers.map((l) => l.node) },
      );
    }
    // Only the fallback layers need weight norms, but a declared score is always checked.
    const norms = channelScores(context, 'weightNorm', this.id);
    const fallback = withoutBn.map((i) => divideByMean(norms[i] as Float64Array));
    const ranked = [
      ...rankGlobally(withBn.map((i) => gammas[i] as Float64Array), withBn),
      ...rankGlobally(fallback.map((f) => f.values), withoutBn),
    ];
    const scales = context.layers.map((_, i) => {
      const at = withoutBn.indexOf(i);
      return at < 0 ? 1 : (fallback[at] as { scale: number }).scale;
    });
    return {
      action: 'prune',
      method: this.id,
      round: context.round,
      entries: removals(context, ranked),
      details: {
        score: '|γ| (unnormalised, pooled over all batch-norm layers)',
        sparsity: this.options.sparsity,
        fallbackLayers: withoutBn.map((i) => context.layers[i]?.node),
        fallbackScore: 'weightNorm(1) / layer mean, ranked after every batch-norm channel',
        layers: layerDetails(
          context,
          context.layers.map((_, i) => gammas[i] ?? (norms[i] as Float64Array)),
          scales,
          (i) => (gammas[i] === null ? 'weightNorm' : 'bnScale'),
        ),
      },
    };
  }
}

/** The contribution: a singleton that makes one fresh `prune-slimming` pruner per run. */
@injectable()
export class SlimmingPrunerContribution implements PrunerContribution<SlimmingPrunerOptions> {
  readonly id = 'prune-slimming';
  readonly description =
    'Network slimming (Liu et al. 2017): train with an L1 penalty on batch-norm scales, remove the smallest |γ|';
  readonly optionsSchema = slimmingOptionsSchema;

  create(options: SlimmingPrunerOptions): Pruner {
    return new SlimmingPruner(options);
  }
}
