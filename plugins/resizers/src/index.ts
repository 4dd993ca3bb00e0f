import { ContainerModule } from '@mitosis/core/di';
import { ResizerContribution } from '@mitosis/core';
import { WidthMultiplierContribution } from './width-multiplier.js';

export {
  WidthMultiplierContribution,
  WidthMultiplierResizer,
  widthMultiplierOptionsSchema,
  type WidthMultiplierOptions,
} from './width-multiplier.js';
export { familyAlphas, makeDivisible, scaledWidth, widthsAt, type ScalableLayer } from './width-scaling.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(WidthMultiplierContribution).toSelf().inSingletonScope();
  bind(ResizerContribution).toService(WidthMultiplierContribution);
});
