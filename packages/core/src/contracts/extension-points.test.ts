import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { injectable, multiInject, optional } from '../di/shared-inversify.js';
import { NasError } from '../errors.js';
import { loadPlugins, readPluginDescriptor } from '../plugin/plugin-loader.js';
import { makeFixtureRoot, writeFixturePlugin } from '../testing/fixture-plugin.js';
import { ContributionRegistry, type Contribution } from './contribution.js';
import { EXTENSION_POINTS, type ExtensionPoint } from './extension-points.js';
import { PrunerRegistry } from './pruner.js';
import { ResizerRegistry } from './resizer.js';
import { ShrinkerRegistry } from './shrinker.js';

const { root, cleanup } = makeFixtureRoot(dirname(fileURLToPath(import.meta.url)));
after(cleanup);

// A new extension point, as a later issue would add it: a token, a registry, and one table entry.
const ScorerContribution = Symbol.for('mitosis.test.ScorerContribution');
@injectable()
class ScorerRegistry extends ContributionRegistry<Contribution> {
  constructor(@multiInject(ScorerContribution) @optional() contributions: readonly Contribution[] = []) {
    super('scorers', 'scorer', contributions);
  }
}
const withScorers: readonly ExtensionPoint[] = [...EXTENSION_POINTS, { kind: 'scorers', noun: 'scorer', token: ScorerContribution, registry: ScorerRegistry }];

const scorerSource = (ids: string[]): string =>
  `import { ContainerModule } from '@mitosis/core/di';\nexport default new ContainerModule(({ bind }) => {\n${ids
    .map((id) => `  bind(Symbol.for('mitosis.test.ScorerContribution')).toConstantValue({ id: ${JSON.stringify(id)}, description: 'd', optionsSchema: { type: 'object' } });`)
    .join('\n')}\n});\n`;

describe('the extension-point table', () => {
  it('lists growers, pruners, resizers, shrinkers, cost models and eigen solvers with distinct keys and tokens', () => {
    assert.deepEqual(EXTENSION_POINTS.map((p) => p.kind), ['growers', 'pruners', 'resizers', 'shrinkers', 'costModels', 'eigenSolvers']);
    assert.equal(new Set(EXTENSION_POINTS.map((p) => p.token)).size, EXTENSION_POINTS.length);
    assert.deepEqual(EXTENSION_POINTS.filter((p) => p.method !== undefined).map((p) => p.method), ['grower', 'pruner', 'resizer', 'shrinker']);
  });

  it('binds a registry per point in the core container', async () => {
    const { container } = await loadPlugins([]);
    assert.deepEqual(container.get(PrunerRegistry).ids(), []);
    assert.deepEqual(container.get(ResizerRegistry).ids(), []);
    assert.deepEqual(container.get(ShrinkerRegistry).ids(), []);
  });

  it('takes a new point from one entry: manifest key, contribution check and registry', async () => {
    const dir = writeFixturePlugin(root, { name: 'p-scorer', manifest: { apiVersion: 1, id: 'p-scorer', contributes: { scorers: ['grad'] } }, source: scorerSource(['grad']) });
    // Without the entry the manifest key is unknown.
    assert.throws(() => readPluginDescriptor(dir), (e: unknown) => NasError.is(e, 'E_PLUGIN_MANIFEST') && /contributes/.test(e.message));
    const { container } = await loadPlugins([dir], withScorers);
    assert.deepEqual(container.get(ScorerRegistry).ids(), ['grad']);
    // The loader checks the new kind like the others.
    const liar = writeFixturePlugin(root, { name: 'p-liar', manifest: { apiVersion: 1, id: 'p-liar', contributes: { scorers: ['a'] } }, source: scorerSource(['a', 'b']) });
    await assert.rejects(loadPlugins([liar], withScorers), (e: unknown) => NasError.is(e, 'E_PLUGIN_MISMATCH') && /scorers/.test(e.message));
  });
});
