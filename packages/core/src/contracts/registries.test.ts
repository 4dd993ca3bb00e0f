import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContainerModule } from '../di/shared-inversify.js';
import { NasError } from '../errors.js';
import { createCoreContainer } from '../plugin/plugin-loader.js';
import { CostModelContribution, CostModelRegistry } from './cost-model.js';
import { EigenSolverContribution, EigenSolverRegistry, type EigenSolver } from './eigen-solver.js';
import { GrowerContribution, GrowerRegistry, type Grower } from './grower.js';

const optionsSchema = {
  type: 'object',
  properties: { fraction: { type: 'number', minimum: 0, maximum: 1, default: 0.3 }, strict: { type: 'boolean', default: true } },
  additionalProperties: false,
};

function growerContribution(id: string): GrowerContribution<{ fraction: number }> {
  return {
    id,
    description: `fixture grower ${id}`,
    optionsSchema,
    create: (options) => ({ id, needs: [], plan: async () => ({ action: 'grow', method: id, round: 0, epsilon: options.fraction, entries: [], predictedDeltaLoss: null }) }) satisfies Grower,
  };
}

describe('GrowerRegistry', () => {
  it('is empty (not an error) when no plugin contributes', () => {
    assert.deepEqual(createCoreContainer().get(GrowerRegistry).ids(), []);
  });

  it('collects contributions bound by modules and creates growers with validated options', async () => {
    const container = createCoreContainer();
    container.load(new ContainerModule(({ bind }) => {
      bind(GrowerContribution).toConstantValue(growerContribution('b'));
      bind(GrowerContribution).toConstantValue(growerContribution('a'));
    }));
    const registry = container.get(GrowerRegistry);
    assert.deepEqual(registry.ids(), ['a', 'b']);
    assert.deepEqual(registry.options('a', {}), { fraction: 0.3, strict: true });
    const plan = await registry.create('a', { fraction: 0.5 }).plan({} as never);
    assert.equal(plan.epsilon, 0.5);
  });

  it('rejects a duplicate id', () => {
    const container = createCoreContainer();
    container.load(new ContainerModule(({ bind }) => {
      bind(GrowerContribution).toConstantValue(growerContribution('s2d'));
      bind(GrowerContribution).toConstantValue(growerContribution('s2d'));
    }));
    assert.throws(() => container.get(GrowerRegistry), (e: unknown) => NasError.is(e, 'E_PLUGIN_CONFLICT') && e.details['id'] === 's2d');
  });

  it('names the known ids on an unknown id', () => {
    const container = createCoreContainer();
    container.load(new ContainerModule(({ bind }) => { bind(GrowerContribution).toConstantValue(growerContribution("s2d")); }));
    assert.throws(() => container.get(GrowerRegistry).get('s2dd'), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_PLUGIN_UNKNOWN'));
      assert.equal(e.message, 'Unknown grower "s2dd" (known: s2d)');
      assert.deepEqual(e.details['known'], ['s2d']);
      return true;
    });
  });

  it('reports bad options with pointers, leaving the caller object untouched', () => {
    const container = createCoreContainer();
    container.load(new ContainerModule(({ bind }) => { bind(GrowerContribution).toConstantValue(growerContribution("s2d")); }));
    const raw = { fraction: 2, typo: 1 };
    assert.throws(() => container.get(GrowerRegistry).options('s2d', raw), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_OPTIONS_INVALID'));
      const pointers = (e.details['problems'] as { pointer: string }[]).map((p) => p.pointer).sort();
      assert.deepEqual(pointers, ['/fraction', '/typo']);
      return true;
    });
    assert.deepEqual(raw, { fraction: 2, typo: 1 });
  });
});

describe('CostModelRegistry and EigenSolverRegistry', () => {
  it('resolve their own contributions independently', () => {
    const container = createCoreContainer();
    const solver: EigenSolver = { id: 'fake', solve: async () => [] };
    container.load(new ContainerModule(({ bind }) => {
      bind(EigenSolverContribution).toConstantValue({ id: 'fake', description: 'd', optionsSchema: { type: 'object' }, create: () => solver });
      bind(CostModelContribution).toConstantValue({
        id: 'zero', description: 'd', unit: 'macs', requiresProfile: false, optionsSchema: { type: 'object' },
        create: () => ({ id: 'zero', unit: 'macs', estimate: () => ({ model: 'zero', unit: 'macs', total: 0, layers: [] }) }),
      });
    }));
    assert.equal(container.get(EigenSolverRegistry).create('fake'), solver);
    assert.equal(container.get(CostModelRegistry).create('zero').unit, 'macs');
    assert.deepEqual(container.get(GrowerRegistry).ids(), []);
  });
});
