import type { Io } from '../io.js';
import { runCli } from '../program.js';

/** What one in-process CLI call printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with `argv` (no `node mitosis` prefix), capturing stdout and stderr. */
export async function captureCli(argv: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), interactive: false };
  const code = await runCli([...argv], io);
  return { code, stdout, stderr };
}
