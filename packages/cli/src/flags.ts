import { NasError } from '@mitosis/core';

/** An integer flag ≥ `min`; anything else is `E_USAGE` naming the flag and the text. */
export function integerFlag(name: string, text: string, min = 0): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new NasError('E_USAGE', `${name} must be an integer ≥ ${min}, got "${text}"`, { option: name, value: text });
  }
  return n;
}

/** A number flag > 0. */
export function positiveFlag(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n > 0) || !Number.isFinite(n)) {
    throw new NasError('E_USAGE', `${name} must be a positive number, got "${text}"`, { option: name, value: text });
  }
  return n;
}

/** A JSON-valued flag. */
export function jsonFlag(name: string, text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new NasError('E_USAGE', `${name} is not valid JSON: ${(cause as Error).message}`, { option: name, value: text });
  }
}
