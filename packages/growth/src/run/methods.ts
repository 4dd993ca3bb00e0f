import {
  NasError,
  type CostModelRegistry,
  type EigenSolverRegistry,
  type Grower,
  type GrowerRegistry,
  type MethodKind,
  type Pruner,
  type PrunerRegistry,
  type Resizer,
  type ResizerRegistry,
  type Shrinker,
  ShrinkerRegistry,
} from '@mitosis/core';
import { checkScoreRequests } from './scores.js';

/** The registries a run draws on (from the plugin container). */
export interface RunServices {
  readonly growers: GrowerRegistry;
  readonly pruners: PrunerRegistry;
  readonly resizers: ResizerRegistry;
  /** Topology methods (AutoShrink); absent: none installed. */
  readonly shrinkers?: ShrinkerRegistry;
  readonly costModels: CostModelRegistry;
  readonly eigenSolvers: EigenSolverRegistry;
}

/** A method created for one run, with its kind and validated options. */
export type ResolvedMethod =
  | { readonly kind: 'grower'; readonly id: string; readonly options: unknown; readonly method: Grower }
  | { readonly kind: 'pruner'; readonly id: string; readonly options: unknown; readonly method: Pruner }
  | { readonly kind: 'resizer'; readonly id: string; readonly options: unknown; readonly method: Resizer }
  | { readonly kind: 'shrinker'; readonly id: string; readonly options: unknown; readonly method: Shrinker };

const noShrinkers = new ShrinkerRegistry([]);

/** Every installed method id by kind. */
export function methodIds(services: Pick<RunServices, 'growers' | 'pruners' | 'resizers' | 'shrinkers'>): Record<MethodKind, string[]> {
  return { grower: services.growers.ids(), pruner: services.pruners.ids(), resizer: services.resizers.ids(), shrinker: (services.shrinkers ?? noShrinkers).ids() };
}

/**
 * Finds method `id` among the growers, pruners, resizers and shrinkers, validates its options against its schema and
 * creates it; its score requests are checked too (an unknown eigen solver or bad solver options fail here,
 * before any training). An unknown id is `E_PLUGIN_UNKNOWN` listing every method by kind.
 */
export function resolveMethod(services: RunServices, id: string, rawOptions: unknown = {}): ResolvedMethod {
  const kinds = (['grower', 'pruner', 'resizer', 'shrinker'] as const).filter((k) => registryOf(services, k).has(id));
  if (kinds.length === 0) {
    const known = methodIds(services);
    const list = (Object.entries(known) as [MethodKind, string[]][]).map(([k, ids]) => `${k}s: ${ids.length > 0 ? ids.join(', ') : 'none'}`).join('; ');
    throw new NasError('E_PLUGIN_UNKNOWN', `Unknown method "${id}" (${list})`, { kind: 'methods', id, known });
  }
  if (kinds.length > 1) {
    throw new NasError('E_PLUGIN_CONFLICT', `The method id "${id}" is contributed as a ${kinds.join(' and a ')}; method ids must be unique`, { id, kinds });
  }
  const kind = kinds[0]!;
  const options = registryOf(services, kind).options(id, rawOptions ?? {});
  if (kind === 'grower') {
    const method = services.growers.create(id, options);
    checkScoreRequests(method.needs, services.eigenSolvers, id);
    return { kind, id, options, method };
  }
  if (kind === 'pruner') {
    const method = services.pruners.create(id, options);
    checkScoreRequests(method.needs, services.eigenSolvers, id);
    return { kind, id, options, method };
  }
  if (kind === 'shrinker') return { kind, id, options, method: (services.shrinkers ?? noShrinkers).create(id, options) };
  return { kind, id, options, method: services.resizers.create(id, options) };
}

function registryOf(services: RunServices, kind: MethodKind): GrowerRegistry | PrunerRegistry | ResizerRegistry | ShrinkerRegistry {
  return kind === 'grower' ? services.growers : kind === 'pruner' ? services.pruners : kind === 'shrinker' ? (services.shrinkers ?? noShrinkers) : services.resizers;
}
