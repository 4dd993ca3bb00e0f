import { NasError } from '@mitosis/core';

/** Where a command writes. The binary passes process streams; tests capture strings. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  readonly interactive: boolean;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};

/** Global flags every command sees. */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly verbose?: boolean;
  readonly plugin?: string[];
  /** `--no-discover`: load only `--plugin` and `MITOSIS_PLUGINS` directories. */
  readonly discover?: boolean;
}

/**
 * Thrown by a command that has printed its result but must exit non-zero (a run that ended outside its
 * budget, a study with failed trials); the CLI returns `code` and prints nothing more.
 */
export class CommandExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Prints a command's result: one JSON document with `--json`, else the human rendering. */
export function emit(io: Io, options: GlobalOptions, value: unknown, human: () => string): void {
  if (options.json === true) io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  else io.stdout(human());
}

/** Renders an error for people: code, message, one line per problem; the stack only with --verbose. */
export function formatError(error: unknown, verbose: boolean): string {
  if (NasError.is(error)) {
    const lines = [`mitosis: ${error.code}: ${error.message}`];
    const problems = error.details['problems'];
    if (Array.isArray(problems) && problems.length > 1) {
      for (const p of problems as { pointer?: string; message?: string }[]) lines.push(`  ${p.pointer ?? ''} ${p.message ?? ''}`);
    }
    if (verbose && error.stack !== undefined) lines.push(error.stack);
    return `${lines.join('\n')}\n`;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return verbose && e.stack !== undefined ? `mitosis: ${e.stack}\n` : `mitosis: ${e.message} (run with --verbose for details)\n`;
}

/** The JSON form of an error for `--json`. */
export function errorJson(error: unknown): { error: unknown } {
  if (NasError.is(error)) return { error: error.toJSON() };
  return { error: { code: 'E_RUN_FAILED', message: error instanceof Error ? error.message : String(error), details: {} } };
}
