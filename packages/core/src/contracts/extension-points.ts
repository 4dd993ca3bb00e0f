import type { Newable } from '../di/shared-inversify.js';
import type { ContributionRegistry, Contribution } from './contribution.js';
import { CostModelContribution, CostModelRegistry } from './cost-model.js';
import { EigenSolverContribution, EigenSolverRegistry } from './eigen-solver.js';
import { GrowerContribution, GrowerRegistry } from './grower.js';
import { PrunerContribution, PrunerRegistry } from './pruner.js';
import { ResizerContribution, ResizerRegistry } from './resizer.js';
import { ShrinkerContribution, ShrinkerRegistry } from './shrinker.js';

/**
 * One extension point: the key plugins use in their manifest's `contributes`, the DI token their contributions
 * are bound under, and the registry that consumes them. The manifest schema, the plugin loader's checks, the
 * core container and `mitosis plugins` all read the table, so adding a point is one entry.
 */
export interface ExtensionPoint {
  /** Manifest key (`contributes.<kind>`), plural camelCase. */
  readonly kind: string;
  /** Singular noun for messages and listings. */
  readonly noun: string;
  readonly token: symbol;
  /** The registry class (injectable; it multi-injects `token`). */
  readonly registry: Newable<ContributionRegistry<Contribution>>;
  /** For methods: the direction they take a network (`mitosis plugins` lists methods by kind). */
  readonly method?: 'grower' | 'pruner' | 'resizer' | 'shrinker';
}

/** The extension points of mitosis. */
export const EXTENSION_POINTS: readonly ExtensionPoint[] = [
  { kind: 'growers', noun: 'grower', token: GrowerContribution, registry: GrowerRegistry, method: 'grower' },
  { kind: 'pruners', noun: 'pruner', token: PrunerContribution, registry: PrunerRegistry, method: 'pruner' },
  { kind: 'resizers', noun: 'resizer', token: ResizerContribution, registry: ResizerRegistry, method: 'resizer' },
  { kind: 'shrinkers', noun: 'shrinker', token: ShrinkerContribution, registry: ShrinkerRegistry, method: 'shrinker' },
  { kind: 'costModels', noun: 'cost model', token: CostModelContribution, registry: CostModelRegistry },
  { kind: 'eigenSolvers', noun: 'eigen solver', token: EigenSolverContribution, registry: EigenSolverRegistry },
];
