import { PrunerRegistry, ResizerRegistry, type CostModelRegistry, type EigenSolverRegistry, type GrowerRegistry } from '@mitosis/core';
import { runMethod, type RunCallbacks, type RunOptions, type RunSummary } from './run-method.js';

/** Options of a growth run (what `mitosis grow` passes): {@link RunOptions} with a grower named `grower`. */
export interface GrowOptions extends Omit<RunOptions, 'method' | 'methodOptions'> {
  /** Grower id and its options (validated against the grower's schema before any training). */
  readonly grower: string;
  readonly growerOptions?: unknown;
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
