import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CostModelRegistry, EigenSolverRegistry, GrowerRegistry, loadPlugins, type WeightMap } from '@mitosis/core';
import type { GrowServices } from '@mitosis/growth';
import { readdirSync } from 'node:fs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let services: Promise<GrowServices> | undefined;

/** The registries of every workspace plugin, loaded once per test file as the CLI loads them. */
export function workspaceServices(): Promise<GrowServices> {
  services ??= loadPlugins(readdirSync(join(repo, 'plugins')).map((d) => join(repo, 'plugins', d))).then(({ container }) => ({
    growers: container.get(GrowerRegistry),
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
