import { ContainerModule } from '@mitosis/core/di';
import { EigenSolverContribution } from '@mitosis/core';
import { LanczosEigenSolverContribution } from './lanczos-eigen-solver.js';

export {
  LanczosEigenSolver,
  LanczosEigenSolverContribution,
  lanczosOptionsSchema,
  type LanczosEigenOptions,
} from './lanczos-eigen-solver.js';

/** Everything this plugin adds to the container. */
export default new ContainerModule(({ bind }) => {
  bind(LanczosEigenSolverContribution).toSelf().inSingletonScope();
  bind(EigenSolverContribution).toService(LanczosEigenSolverContribution);
});
