import { ContainerModule } from '@mitosis/core/di';
import { GrowerContribution } from '@mitosis/core';
import { TopKGrowerContribution } from './top-k-grower.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(TopKGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(TopKGrowerContribution);
});
