import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import { ContributionRegistry, type Contribution } from './contribution.js';
import type { ResizePlan } from './channel-plan.js';
import type { ResizeContext } from './method.js';

/**
 * A resizing strategy: one step that sets every layer's width (a MobileNet width multiplier), after which the
 * loop initialises the network afresh and trains it for the run's whole epoch budget.
 */
export interface Resizer {
  readonly id: string;
  plan(context: ResizeContext): Promise<ResizePlan>;
}

/** DI token of {@link ResizerContribution}. */
export const ResizerContribution = Symbol.for('mitosis.ResizerContribution');
/** A plugin's resizer: validated options in, a fresh {@link Resizer} out. */
export interface ResizerContribution<O = never> extends Contribution {
  create(options: O): Resizer;
}

/** All installed resizers; the class is its own token. */
@injectable()
export class ResizerRegistry extends ContributionRegistry<ResizerContribution<unknown>> {
  constructor(@multiInject(ResizerContribution) @optional() contributions: readonly ResizerContribution<unknown>[] = []) {
    super('resizers', 'resizer', contributions);
  }

  create(id: string, options: unknown = {}): Resizer {
    return this.get(id).create(this.options(id, options));
  }
}
