import { ContainerModule } from '@mitosis/core/di';
import { CostModelContribution } from '@mitosis/core';
import { MacsCostModelContribution, ParamsCostModelContribution } from './counting-cost-models.js';

export {
  MacsCostModelContribution,
  ParamsCostModelContribution,
  countingOptionsSchema,
  type CountingOptions,
} from './counting-cost-models.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(MacsCostModelContribution).toSelf().inSingletonScope();
  bind(CostModelContribution).toService(MacsCostModelContribution);
  bind(ParamsCostModelContribution).toSelf().inSingletonScope();
  bind(CostModelContribution).toService(ParamsCostModelContribution);
});
