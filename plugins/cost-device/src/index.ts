import { ContainerModule } from '@mitosis/core/di';
import { CostModelContribution } from '@mitosis/core';
import { EnergyCostModelContribution, LatencyCostModelContribution } from './device-cost-models.js';

export {
  EnergyCostModelContribution,
  LatencyCostModelContribution,
  deviceOptionsSchema,
  type DeviceOptions,
} from './device-cost-models.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(LatencyCostModelContribution).toSelf().inSingletonScope();
  bind(CostModelContribution).toService(LatencyCostModelContribution);
  bind(EnergyCostModelContribution).toSelf().inSingletonScope();
  bind(CostModelContribution).toService(EnergyCostModelContribution);
});
