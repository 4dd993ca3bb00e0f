import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Helpers for the Redis executor tests (not exported from the package): JSON-line child processes. */

const fakeWorkerScript = fileURLToPath(new URL('./fake-worker.js', import.meta.url));
const fakeCoordinatorScript = fileURLToPath(new URL('./fake-coordinator.js', import.meta.url));

/** A child process that prints one JSON object per line on stdout. */
export interface JsonChild {
  readonly child: ChildProcess;
  /** Every object printed so far. */
  readonly lines: Record<string, unknown>[];
  /** Its stderr so far. */
  stderr(): string;
  /** Resolves with the first line (past or future) for which `pred` holds; rejects after `ms` or on exit. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

function jsonChild(script: string, args: readonly string[], env: Readonly<Record<string, string>>): JsonChild {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let err = '';
  let buffer = '';
  let ended = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { type: 'text', text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => void (err += chunk.toString()));
  const exited = new Promise<number | null>((r) =>
    child.on('exit', (code) => {
      ended = true;
      r(code);
    }),
  );
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitFor: (pred, ms = 60_000) => {
      const found = lines.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms; lines: ${JSON.stringify(lines)}; stderr: ${err}`)), ms);
        const entry = {
          pred,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolveLine(l);
          },
        };
        waiters.push(entry);
        void exited.then(() => {
          if (ended && waiters.includes(entry)) {
            clearTimeout(timer);
            reject(new Error(`the process exited first; lines: ${JSON.stringify(lines)}; stderr: ${err}`));
          }
        });
      });
    },
  };
}

/** Starts `fake-worker.js` (the library worker on the fake trial) and waits until it serves. */
export async function startFakeWorker(url: string, workDir: string, args: readonly string[] = [], env: Readonly<Record<string, string>> = {}): Promise<JsonChild> {
  const w = jsonChild(fakeWorkerScript, [url, workDir, ...args], env);
  await w.waitFor((l) => l['type'] === 'ready');
  return w;
}

/** Starts `fake-coordinator.js` (the fake study on the Redis executor). */
export function startFakeCoordinator(url: string, out: string, space: string, overrides: Record<string, unknown> = {}, env: Readonly<Record<string, string>> = {}): JsonChild {
  return jsonChild(fakeCoordinatorScript, [url, out, space, JSON.stringify(overrides)], env);
}

/** SIGTERM (a clean stop), then the exit code. */
export async function stopChild(c: JsonChild): Promise<number | null> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
  return c.exited;
}
