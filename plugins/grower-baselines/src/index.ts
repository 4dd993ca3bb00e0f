import { ContainerModule } from '@mitosis/core/di';
import { GrowerContribution } from '@mitosis/core';
import { RandomNeuronGrowerContribution } from './random-neuron-grower.js';
import { RandomSplitGrowerContribution } from './random-split-grower.js';

export { chooseRandomNeurons, thetaLengths, type CountOptions, type RandomChoice } from './random-choice.js';
export {
  RandomSplitGrower,
  RandomSplitGrowerContribution,
  randomSplitOptionsSchema,
  type RandomSplitOptions,
} from './random-split-grower.js';
export {
  RandomNeuronGrower,
  RandomNeuronGrowerContribution,
  randomNeuronOptionsSchema,
  type RandomNeuronOptions,
} from './random-neuron-grower.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(RandomSplitGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(RandomSplitGrowerContribution);
  bind(RandomNeuronGrowerContribution).toSelf().inSingletonScope();
  bind(GrowerContribution).toService(RandomNeuronGrowerContribution);
});
