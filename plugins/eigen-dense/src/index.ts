import { ContainerModule } from '@mitosis/core/di';
import { EigenSolverContribution } from '@mitosis/core';
import { DenseEigenSolverContribution } from './dense-eigen-solver.js';

export { DenseEigenSolver, DenseEigenSolverContribution, denseOptionsSchema, type DenseEigenOptions } from './dense-eigen-solver.js';

/** Everything this plugin adds to the container. */
export default new ContainerModule(({ bind }) => {
  bind(DenseEigenSolverContribution).toSelf().inSingletonScope();
  bind(EigenSolverContribution).toService(DenseEigenSolverContribution);
});
