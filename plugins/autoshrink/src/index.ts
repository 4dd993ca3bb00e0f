import { ContainerModule } from '@mitosis/core/di';
import { ShrinkerContribution } from '@mitosis/core';
import { AutoShrinkContribution } from './autoshrink.js';

export { AutoShrink, AutoShrinkContribution, autoshrinkMetric, autoshrinkOptionsSchema, defaultCostReference, type AutoShrinkOptions } from './autoshrink.js';

/** Everything this plugin adds to the container. It only binds: no I/O, no side effects. */
export default new ContainerModule(({ bind }) => {
  bind(AutoShrinkContribution).toSelf().inSingletonScope();
  bind(ShrinkerContribution).toService(AutoShrinkContribution);
});
