import { ContainerModule } from '@mitosis/core/di';
import { PrunerContribution } from '@mitosis/core';
import { L2NormPrunerContribution } from './pruner.js';

/** Everything this plugin adds to mitosis. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(L2NormPrunerContribution).toSelf().inSingletonScope();
  bind(PrunerContribution).toService(L2NormPrunerContribution);
});
