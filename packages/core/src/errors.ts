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
  | 'E_RUN_FAILED'
  | 'E_FS_WRITE';

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

/** The exit status of each error class: 1 a failed run, 2 a usage or configuration error, 3 a broken plugin. */
export type ExitCode = 1 | 2 | 3;

/**
 * The exit code of every error code (a `Record` over the union, so a new code cannot be left unclassified):
 * 2 for anything the user typed or configured wrong — a flag, a file, a data set, a budget, a backend that is not
 * available here, and an unknown method, space, profile or data set id (`E_PLUGIN_UNKNOWN` too: the id is the
 * mistake, not the plugin); 3 for a plugin that is broken (manifest, load, mismatch, conflict, or a method that
 * returns an invalid plan); 1 for a run that failed (diverged, numerical trouble, a damaged checkpoint, a disk that
 * refused a write, a final model outside its budget). docs/errors.md lists the same table (a test compares them).
 */
export const EXIT_CODES: Readonly<Record<NasErrorCode, ExitCode>> = {
  E_USAGE: 2,
  E_CONFIG_INVALID: 2,
  E_CONFIG_READ: 2,
  E_SPEC_INVALID: 2,
  E_SHAPE_MISMATCH: 2,
  E_OPTIONS_INVALID: 2,
  E_PROFILE_INVALID: 2,
  E_LUT_MISS: 2,
  E_UNIT_MISMATCH: 2,
  E_DATA_INVALID: 2,
  E_DATA_READ: 2,
  E_DATA_MISSING: 2,
  E_MODEL_FORMAT: 2,
  E_BUDGET_INFEASIBLE: 2,
  E_BACKEND_UNAVAILABLE: 2,
  E_PLUGIN_UNKNOWN: 2,
  E_PLUGIN_MANIFEST: 3,
  E_PLUGIN_LOAD: 3,
  E_PLUGIN_MISMATCH: 3,
  E_PLUGIN_CONFLICT: 3,
  E_PLAN_INVALID: 3,
  E_BUDGET_NOT_MET: 1,
  E_CHECKPOINT: 1,
  E_NUMERICAL: 1,
  E_DIVERGED: 1,
  E_RUN_FAILED: 1,
  E_FS_WRITE: 1,
};

/** The exit code of an error ({@link EXIT_CODES}); 1 for anything that is not a NasError (a bug). */
export function exitCodeFor(error: unknown): number {
  if (!NasError.is(error)) return 1;
  return EXIT_CODES[error.code] ?? 1;
}
