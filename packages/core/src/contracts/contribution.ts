import { NasError } from '../errors.js';
import { cloneJson, validateAgainst } from '../config/json-config.js';

/**
 * What every extension point has in common: a stable kebab-case id, a one-line description, and a JSON
 * Schema for its options whose `default`s define the reference set-up. Plugins bind contributions
 * (singletons); the runtime objects (a grower, a cost model, a solver) are made per run by `create`.
 */
export interface Contribution {
  readonly id: string;
  readonly description: string;
  /** JSON Schema of the options (`JSONSchemaType<O>` in the plugin); defaults are applied by the registry. */
  readonly optionsSchema: object;
}

/**
 * The contribution kinds, as named in a plugin manifest's `contributes`: the `kind` of an entry of the
 * extension-point table (`growers`, `pruners`, `resizers`, `costModels`, `eigenSolvers`).
 */
export type ContributionKind = string;

/**
 * The one consumer of an extension point. Rejects duplicate ids (`E_PLUGIN_CONFLICT`), names the known ids
 * on a miss (`E_PLUGIN_UNKNOWN`) and validates options against the contribution's schema.
 */
export class ContributionRegistry<C extends Contribution> {
  private readonly byId = new Map<string, C>();

  constructor(
    readonly kind: ContributionKind,
    /** Singular noun for messages: "grower", "cost model", "eigen solver". */
    readonly noun: string,
    contributions: readonly C[],
  ) {
    for (const contribution of contributions) {
      if (this.byId.has(contribution.id)) {
        throw new NasError(
          'E_PLUGIN_CONFLICT',
          `The ${noun} id "${contribution.id}" is contributed twice; plugin ids must be unique`,
          { kind, id: contribution.id },
        );
      }
      this.byId.set(contribution.id, contribution);
    }
  }

  /** Known ids, sorted. */
  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  all(): C[] {
    return this.ids().map((id) => this.byId.get(id) as C);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): C {
    const found = this.byId.get(id);
    if (found === undefined) {
      const known = this.ids();
      throw new NasError(
        'E_PLUGIN_UNKNOWN',
        `Unknown ${this.noun} "${id}" (known: ${known.length > 0 ? known.join(', ') : 'none installed'})`,
        { kind: this.kind, id, known },
      );
    }
    return found;
  }

  /**
   * Validates options for contribution `id` (a deep copy; defaults filled in). Errors are `E_OPTIONS_INVALID`
   * with a JSON pointer per problem.
   */
  options<O>(id: string, raw: unknown = {}, source = `${this.noun} "${id}"`): O {
    const contribution = this.get(id);
    const copy: unknown = raw === undefined ? {} : cloneJson(raw, source, 'E_OPTIONS_INVALID');
    return validateAgainst<O>(contribution.optionsSchema, copy, {
      source,
      what: "options for",
      code: 'E_OPTIONS_INVALID',
    });
  }
}
