import { ContainerModule } from '@mitosis/core/di';
import { EigenSolverContribution } from '@mitosis/core';
import { PowerIterationSolverContribution } from './eigen-solver.js';

/** Everything this plugin adds to mitosis. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(PowerIterationSolverContribution).toSelf().inSingletonScope();
  bind(EigenSolverContribution).toService(PowerIterationSolverContribution);
});
