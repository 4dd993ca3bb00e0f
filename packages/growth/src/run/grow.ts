import { PrunerRegistry, ResizerRegistry, type CostModelRegistry, type EigenSolverRegistry, type GrowerRegistry, type NetworkSpec, type WeightMap } from '@mitosis/core';
import type { Budget } from './budget.js';
import { runMethod, type RunCallbacks, type RunSummary } from './run-method.js';
import type { SearchSpace } from '../space/search-space.js';

/** Options of a growth run (what `mitosis grow` passes): {@link runMethod} with a grower. */
export interface GrowOptions {
  readonly space: SearchSpace;
  /** Grower id and its options (validated against the grower's schema before any training). */
  readonly grower: string;
  readonly growerOptions?: unknown;
  readonly profile?: string;
  /** Final-model cost target; each round's budget is (target − cost) / rounds left. */
  readonly budget?: Budget;
  readonly rounds: number;
  readonly out: string;
  readonly resume?: boolean;
  readonly force?: boolean;
  readonly seed: number;
  readonly quiet?: boolean;
  readonly initial?: { readonly spec: NetworkSpec; readonly weights: WeightMap };
}

/** The registries a growth run needs. */
export interface GrowServices {
  readonly growers: GrowerRegistry;
  readonly costModels: CostModelRegistry;
  readonly eigenSolvers: EigenSolverRegistry;
}

export type GrowCallbacks = RunCallbacks;
export type GrowSummary = RunSummary;

/** A growth run: {@link runMethod} restricted to growers (the `mitosis grow` shortcut). */
export async function grow(options: GrowOptions, services: GrowServices, callbacks: GrowCallbacks = {}): Promise<GrowSummary> {
  const { grower, growerOptions, ...rest } = options;
  services.growers.get(grower); // an unknown id names the known growers (E_PLUGIN_UNKNOWN)
  return runMethod(
    { ...rest, method: grower, methodOptions: growerOptions ?? {} },
    { ...services, pruners: new PrunerRegistry([]), resizers: new ResizerRegistry([]) },
    callbacks,
  );
}
