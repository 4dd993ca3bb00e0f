import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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
  checkJsonLimits(data, options.source, options.code);
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

/** Limits every JSON input is held to before it is cloned, validated or walked. */
export const JSON_LIMITS = {
  /** Bytes of a JSON file (read in full only below this). */
  maxBytes: 64 * 1024 * 1024,
  /** Nesting depth of arrays and objects (the documents mitosis reads nest about a dozen levels). */
  maxDepth: 128,
} as const;

/**
 * Checks the nesting depth of a parsed JSON value without recursion (a 5,000-deep document would overflow the
 * stack of `structuredClone` or of a recursive walk). Too deep is `E_CONFIG_INVALID` naming `source` and the
 * JSON pointer where the limit is crossed.
 */
export function checkJsonLimits(value: unknown, source: string, code: NasErrorCode = 'E_CONFIG_INVALID', maxDepth: number = JSON_LIMITS.maxDepth): void {
  const stack: { v: unknown; depth: number; pointer: string }[] = [{ v: value, depth: 0, pointer: '' }];
  while (stack.length > 0) {
    const { v, depth, pointer } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) {
      throw new ConfigValidationError(source, [{ pointer: pointer || '/', message: `nests deeper than ${maxDepth} levels` }], 'JSON document', code);
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, pointer: `${pointer}/${i}` });
    } else {
      for (const key of Object.keys(v)) stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1, pointer: `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}` });
    }
  }
}

/** {@link checkJsonLimits}, then a deep copy (`structuredClone`), for parsers that fill defaults into a copy. */
export function cloneJson<T = unknown>(value: T, source: string, code: NasErrorCode = 'E_CONFIG_INVALID'): T {
  checkJsonLimits(value, source, code);
  return structuredClone(value);
}

/**
 * Reads at most `maxBytes` bytes of a regular file as UTF-8; larger files, and anything that is not a regular
 * file (a device such as /dev/zero, a FIFO, a folder), are `E_CONFIG_READ` naming the file — nothing is read
 * from them. Files that report a size of 0 but have content (/proc) are still read only up to the limit.
 */
export function readBoundedText(file: string, maxBytes: number = JSON_LIMITS.maxBytes, code: NasErrorCode = 'E_CONFIG_READ'): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    throw new NasError(code, `Cannot read ${file}: ${(cause as Error).message}`, { file }, { cause });
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new NasError(code, `Cannot read ${file}: not a regular file`, { file });
    if (info.size > maxBytes) throw new NasError(code, `Cannot read ${file}: ${info.size} bytes, more than the ${maxBytes} a JSON input may have`, { file, bytes: info.size, maxBytes });
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 << 20, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.byteLength, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new NasError(code, `Cannot read ${file}: more than the ${maxBytes} bytes a JSON input may have`, { file, maxBytes });
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (cause) {
    if (NasError.is(cause)) throw cause;
    throw new NasError(code, `Cannot read ${file}: ${(cause as Error).message}`, { file }, { cause });
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and parses a JSON file; a missing, non-regular or oversized file or a syntax error is an
 * `E_CONFIG_READ` naming the file, and a document nesting deeper than {@link JSON_LIMITS} is `E_CONFIG_INVALID`.
 */
export function readJsonFile(file: string): unknown {
  const text = readBoundedText(file);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new NasError('E_CONFIG_READ', `${file} is not valid JSON: ${(cause as Error).message}`, { file }, { cause });
  }
  checkJsonLimits(doc, file);
  return doc;
}

/** {@link readJsonFile} then {@link validateAgainst}. */
export function loadJsonConfig<T>(file: string, schema: object, what?: string, code?: NasErrorCode): T {
  return validateAgainst<T>(schema, readJsonFile(file), {
    source: file,
    ...(what === undefined ? {} : { what }),
    ...(code === undefined ? {} : { code }),
  });
}
