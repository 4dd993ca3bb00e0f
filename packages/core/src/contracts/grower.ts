import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import { ContributionRegistry, type Contribution } from './contribution.js';
import type { GrowthPlan } from './channel-plan.js';
import type { MethodContext, ScoreRequest } from './method.js';

/**
 * A growth strategy for one run, never reused across runs. `plan` selects from the scores it declared in
 * `needs` and returns data; it never edits the network itself. A plan must depend only on the context and the
 * grower's options (all randomness through `context.random`): a resumed run creates a fresh grower, and must
 * reproduce the uninterrupted run.
 */
export interface Grower {
  readonly id: string;
  /** The scores the loop computes for this grower each round (none for random baselines). */
  readonly needs: readonly ScoreRequest[];
  plan(context: MethodContext): Promise<GrowthPlan>;
}

/** DI token of {@link GrowerContribution}; plugins bind their growers under it. */
export const GrowerContribution = Symbol.for('mitosis.GrowerContribution');
/** A plugin's grower: validated options in, a fresh {@link Grower} out. */
export interface GrowerContribution<O = never> extends Contribution {
  /** A fresh grower per run; options were validated against `optionsSchema` by the registry. */
  create(options: O): Grower;
}

/** All installed growers; the class is its own token. */
@injectable()
export class GrowerRegistry extends ContributionRegistry<GrowerContribution<unknown>> {
  constructor(@multiInject(GrowerContribution) @optional() contributions: readonly GrowerContribution<unknown>[] = []) {
    super('growers', 'grower', contributions);
  }

  create(id: string, options: unknown = {}): Grower {
    return this.get(id).create(this.options(id, options));
  }
}
