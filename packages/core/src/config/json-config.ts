import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigValidationError, NasError, type ConfigProblem, type NasErrorCode } from '../errors.js';

/**
 * One ajv instance per schema family. `allErrors` so every problem is reported at once, `useDefaults` so
 * options schemas fill in their defaults, `strict` to catch schema typos.
 */
export function createAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: true, useDefaults: true, allowUnionTypes: true });
}

const sharedAjv = createAjv();
const compiled = new WeakMap<object, ValidateFunction>();

/** Turns ajv errors into pointer + message pairs, naming the missing or extra property where ajv knows it. */
export function problemsFromAjv(errors: readonly ErrorObject[] | null | undefined): ConfigProblem[] {
  return (errors ?? []).map((e) => {
    let pointer = e.instancePath;
    let message = e.message ?? 'is invalid';
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof params['missingProperty'] === 'string') {
      pointer = `${pointer}/${params['missingProperty']}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
      pointer = `${pointer}/${params['additionalProperty']}`;
      message = 'is not allowed here';
    } else if (e.keyword === 'enum' && Array.isArray(params['allowedValues'])) {
      message = `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return { pointer: pointer === '' ? '/' : pointer, message };
  });
}

export interface ValidateOptions {
  /** The file (or other source) named in the error. */
  readonly source: string;
  /** What the document is, for the message: "search space", "hardware profile". */
  readonly what?: string;
  readonly code?: NasErrorCode;
}

/**
 * Validates `data` against a JSON Schema (compiled once per schema object), filling defaults in place.
 * Throws a {@link ConfigValidationError} that lists every problem with its JSON pointer.
 */
export function validateAgainst<T>(schema: object, data: unknown, options: ValidateOptions): T {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = sharedAjv.compile(schema);
    compiled.set(schema, validate);
  }
  if (!validate(data)) {
    throw new ConfigValidationError(options.source, problemsFromAjv(validate.errors), options.what, options.code);
  }
  return data as T;
}

/** Reads and parses a JSON file; a missing file or a syntax error is an `E_CONFIG_READ` naming the file. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NasError('E_CONFIG_READ', `Cannot read ${file}: ${(cause as Error).message}`, { file }, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new NasError('E_CONFIG_READ', `${file} is not valid JSON: ${(cause as Error).message}`, { file }, { cause });
  }
}

/** {@link readJsonFile} then {@link validateAgainst}. */
export function loadJsonConfig<T>(file: string, schema: object, what?: string, code?: NasErrorCode): T {
  return validateAgainst<T>(schema, readJsonFile(file), {
    source: file,
    ...(what === undefined ? {} : { what }),
    ...(code === undefined ? {} : { code }),
  });
}
