const brand: unique symbol = Symbol.for('@mitosis/core/NasError');

/**
 * Every error code mitosis raises. `E_<AREA>_<WHAT>`; the CLI maps the area to an exit code
 * (see {@link exitCodeFor}).
 */
export type NasErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG_INVALID'
  | 'E_CONFIG_READ'
  | 'E_SPEC_INVALID'
  | 'E_SHAPE_MISMATCH'
  | 'E_PLAN_INVALID'
  | 'E_DATA_INVALID'
  | 'E_DATA_READ'
  | 'E_DATA_MISSING'
  | 'E_PLUGIN_MANIFEST'
  | 'E_PLUGIN_LOAD'
  | 'E_PLUGIN_MISMATCH'
  | 'E_PLUGIN_CONFLICT'
  | 'E_PLUGIN_UNKNOWN'
  | 'E_OPTIONS_INVALID'
  | 'E_PROFILE_INVALID'
  | 'E_LUT_MISS'
  | 'E_UNIT_MISMATCH'
  | 'E_BUDGET_INFEASIBLE'
  | 'E_BUDGET_NOT_MET'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_MODEL_FORMAT'
  | 'E_CHECKPOINT'
  | 'E_NUMERICAL'
  | 'E_DIVERGED'
  | 'E_RUN_FAILED';

/** JSON-safe details attached to an error. */
export type NasErrorDetails = Readonly<Record<string, unknown>>;

/**
 * The one error class of mitosis: a string code, a message that names the object and the remedy,
 * and JSON details. `NasError.is` works across duplicate installed copies of `@mitosis/core`
 * (a `Symbol.for` brand), where `instanceof` would not.
 */
export class NasError extends Error {
  readonly [brand] = true;
  override name = 'NasError';

  constructor(
    readonly code: NasErrorCode,
    message: string,
    readonly details: NasErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** True when `value` is a NasError (of `code`, when given), whichever copy of core made it. */
  static is(value: unknown, code?: NasErrorCode): value is NasError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[brand] === true &&
      (code === undefined || (value as NasError).code === code)
    );
  }

  toJSON(): { code: NasErrorCode; message: string; details: NasErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** One schema problem: where (a JSON pointer into the document) and what. */
export interface ConfigProblem {
  readonly pointer: string;
  readonly message: string;
}

/** A JSON document failed its schema. `details.problems` lists every problem with its JSON pointer. */
export class ConfigValidationError extends NasError {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
    what = 'config',
    code: NasErrorCode = 'E_CONFIG_INVALID',
  ) {
    super(
      code,
      `Invalid ${what} ${file}: ${problems.map((p) => `${p.pointer || '/'} ${p.message}`).join('; ')}`,
      { file, problems: problems.map((p) => ({ ...p })) },
    );
  }
}

/**
 * Exit codes by error class: 2 for anything the user typed or configured wrong, including an unknown method,
 * space, profile or data set id (`E_PLUGIN_UNKNOWN` too: the id is the mistake, not the plugin); 3 for a plugin
 * that is broken (manifest, load, mismatch, conflict); 1 for everything else (a failed run).
 */
export function exitCodeFor(error: unknown): number {
  if (!NasError.is(error)) return 1;
  switch (error.code) {
    case 'E_USAGE':
    case 'E_CONFIG_INVALID':
    case 'E_CONFIG_READ':
    case 'E_SPEC_INVALID':
    case 'E_SHAPE_MISMATCH':
    case 'E_OPTIONS_INVALID':
    case 'E_PROFILE_INVALID':
    case 'E_UNIT_MISMATCH':
    case 'E_DATA_INVALID':
    case 'E_DATA_READ':
    case 'E_MODEL_FORMAT':
    case 'E_DATA_MISSING':
    case 'E_BUDGET_INFEASIBLE':
    case 'E_PLUGIN_UNKNOWN':
      return 2;
    case 'E_PLUGIN_MANIFEST':
    case 'E_PLUGIN_LOAD':
    case 'E_PLUGIN_MISMATCH':
    case 'E_PLUGIN_CONFLICT':
      return 3;
    default:
      return 1;
  }
}
