import { ContainerModule } from '@mitosis/core/di';
import { CostModelContribution } from '@mitosis/core';
import { ThroughputCostModelContribution } from './cost-model.js';

/** Everything this plugin adds to mitosis. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(ThroughputCostModelContribution).toSelf().inSingletonScope();
  bind(CostModelContribution).toService(ThroughputCostModelContribution);
});
