import { ContainerModule } from '@mitosis/core/di';
import { GrowerContribution } from '@mitosis/core';
import { SignedGrowerContribution } from './signed-grower.js';

export {
  SIGNED_SCHEMES,
  SignedGrower,
  SignedGrowerContribution,
  schemeOffspring,
  schemeValues,
  signedOptionsSchema,
  type SchemeCandidate,
  type SignedOptions,
  type SignedScheme,
} from './signed-grower.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(SignedGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(SignedGrowerContribution);
});
