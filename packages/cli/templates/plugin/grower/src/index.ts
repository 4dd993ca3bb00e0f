import { ContainerModule } from '@mitosis/core/di';
import { GrowerContribution } from '@mitosis/core';
import { BudgetSplitGrowerContribution } from './grower.js';

/** Everything this plugin adds to mitosis. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(BudgetSplitGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(BudgetSplitGrowerContribution);
});
