import { ContainerModule } from '@mitosis/core/di';
import { EigenSolverContribution } from '@mitosis/core';
import { RayleighEigenSolverContribution } from './rayleigh-eigen-solver.js';

export {
  RayleighEigenSolver,
  RayleighEigenSolverContribution,
  rayleighOptionsSchema,
  type RayleighEigenOptions,
} from './rayleigh-eigen-solver.js';
export { RmsProp, rayleighGradient, type RmsPropSettings } from './rayleigh-update.js';

/** Everything this plugin adds to the container. */
export default new ContainerModule(({ bind }) => {
  bind(RayleighEigenSolverContribution).toSelf().inSingletonScope();
  bind(EigenSolverContribution).toService(RayleighEigenSolverContribution);
});
