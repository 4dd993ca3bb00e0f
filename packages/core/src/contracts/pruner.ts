import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import { ContributionRegistry, type Contribution } from './contribution.js';
import type { PrunePlan } from './channel-plan.js';
import type { MethodContext, MethodTraining, ScoreRequest } from './method.js';

/**
 * A pruning strategy for one run. It starts from the search space's full network; each round it ranks the
 * removable channels from the scores it declared (least important first) and the plan policy removes the
 * shortest prefix that meets the round's cost target. Like a grower, a plan depends only on the context and
 * the options.
 */
export interface Pruner {
  readonly id: string;
  readonly needs: readonly ScoreRequest[];
  /** Extra training the loop runs for this pruner (sparsity before pruning). */
  readonly training?: MethodTraining;
  plan(context: MethodContext): Promise<PrunePlan>;
}

/** DI token of {@link PrunerContribution}. */
export const PrunerContribution = Symbol.for('mitosis.PrunerContribution');
/** A plugin's pruner: validated options in, a fresh {@link Pruner} out. */
export interface PrunerContribution<O = never> extends Contribution {
  create(options: O): Pruner;
}

/** All installed pruners; the class is its own token. */
@injectable()
export class PrunerRegistry extends ContributionRegistry<PrunerContribution<unknown>> {
  constructor(@multiInject(PrunerContribution) @optional() contributions: readonly PrunerContribution<unknown>[] = []) {
    super('pruners', 'pruner', contributions);
  }

  create(id: string, options: unknown = {}): Pruner {
    return this.get(id).create(this.options(id, options));
  }
}
