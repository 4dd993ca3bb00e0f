import { ContainerModule } from '@mitosis/core/di';
import { GrowerContribution } from '@mitosis/core';
import { S2dGrowerContribution } from './s2d-grower.js';

export { S2dGrower, S2dGrowerContribution, s2dOptionsSchema, type S2dOptions } from './s2d-grower.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(S2dGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(S2dGrowerContribution);
});
