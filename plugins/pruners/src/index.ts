import { ContainerModule } from '@mitosis/core/di';
import { PrunerContribution } from '@mitosis/core';
import { L1PrunerContribution } from './l1-pruner.js';
import { SlimmingPrunerContribution } from './slimming-pruner.js';
import { TaylorPrunerContribution } from './taylor-pruner.js';

export { L1Pruner, L1PrunerContribution, l1OptionsSchema, type L1PrunerOptions } from './l1-pruner.js';
export {
  SlimmingPruner,
  SlimmingPrunerContribution,
  slimmingOptionsSchema,
  type SlimmingPrunerOptions,
} from './slimming-pruner.js';
export { TaylorPruner, TaylorPrunerContribution, taylorOptionsSchema, type TaylorPrunerOptions } from './taylor-pruner.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(L1PrunerContribution).toSelf().inSingletonScope();
  bind(PrunerContribution).toService(L1PrunerContribution);
  bind(SlimmingPrunerContribution).toSelf().inSingletonScope();
  bind(PrunerContribution).toService(SlimmingPrunerContribution);
  bind(TaylorPrunerContribution).toSelf().inSingletonScope();
  bind(PrunerContribution).toService(TaylorPrunerContribution);
});
