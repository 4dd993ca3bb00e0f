import { ContainerModule } from '@mitosis/core/di';
import { PrunerContribution } from '@mitosis/core';
import { MagnitudePrunerContribution } from './magnitude-pruner.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(MagnitudePrunerContribution).toSelf().inSingletonScope();
  bind(PrunerContribution).toService(MagnitudePrunerContribution);
});
