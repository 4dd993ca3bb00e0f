import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CostModelRegistry, EigenSolverRegistry, GrowerRegistry, PrunerRegistry, ResizerRegistry, ShrinkerRegistry, loadPlugins, type WeightMap } from '@mitosis/core';
import type { RunServices } from '@mitosis/growth';
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { readRunEvents, type RunEvent } from '@mitosis/growth';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let services: Promise<RunServices> | undefined;

/** The registries of every workspace plugin, loaded once per test file as the CLI loads them. */
export function workspaceServices(): Promise<RunServices> {
  services ??= loadPlugins(readdirSync(join(repo, 'plugins')).map((d) => join(repo, 'plugins', d))).then(({ container }) => ({
    growers: container.get(GrowerRegistry),
    pruners: container.get(PrunerRegistry),
    resizers: container.get(ResizerRegistry),
    shrinkers: container.get(ShrinkerRegistry),
    costModels: container.get(CostModelRegistry),
    eigenSolvers: container.get(EigenSolverRegistry),
  }));
  return services;
}

/** A fresh temporary directory and its removal. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `mitosis-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Weights from plain arrays. */
export function weightMap(entries: Record<string, { shape: number[]; data: number[] }>): WeightMap {
  return new Map(Object.entries(entries).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]));
}

export const repoRoot = repo;

/**
 * Events of a run directory as the run's readers see them (`readRunEvents`: lines cut by a kill are skipped, and
 * what a resumed run logged again replaces what it had logged after the checkpoint it resumed from).
 */
export function readEvents(runDir: string): RunEvent[] {
  return readRunEvents(join(runDir, 'events.jsonl'));
}

/**
 * Runs the CLI (with `env` added to the environment); with `killWhen`, polls it and sends SIGKILL once it holds.
 * Resolves the exit code or signal.
 */
export function runCliProcess(args: string[], killWhen?: () => boolean, env?: Readonly<Record<string, string>>): Promise<number | string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(env === undefined ? {} : { env: { ...process.env, ...env } }) });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killWhen === undefined ? undefined : setInterval(() => killWhen() && child.kill('SIGKILL'), 20);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer !== undefined) clearInterval(timer);
      if (signal !== null) resolvePromise(signal);
      else if (code === 0) resolvePromise(0);
      else reject(new Error(`mitosis exited ${code}: ${stderr}`));
    });
  });
}
