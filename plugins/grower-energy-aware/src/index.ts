import { ContainerModule } from '@mitosis/core/di';
import { GrowerContribution } from '@mitosis/core';
import { EnergyAwareGrowerContribution } from './energy-aware-grower.js';

export {
  EnergyAwareGrower,
  EnergyAwareGrowerContribution,
  energyAwareOptionsSchema,
  type EnergyAwareOptions,
} from './energy-aware-grower.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(EnergyAwareGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(EnergyAwareGrowerContribution);
});
