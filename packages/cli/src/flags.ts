import type { Command } from 'commander';
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

/**
 * The value of option `name` of a subcommand that shares the option with its parent (`bench eigen --backend` and
 * `bench --backend`): commander gives a parent's option to the parent wherever it appears on the line, so the
 * subcommand's own stays at its default. The value typed (for either) wins over the subcommand's default.
 */
export function sharedOption(command: Command, name: string): unknown {
  if (command.getOptionValueSource(name) === 'cli') return command.getOptionValue(name);
  const parent = command.parent;
  if (parent !== null && parent.getOptionValueSource(name) === 'cli') return parent.getOptionValue(name);
  return command.getOptionValue(name);
}
