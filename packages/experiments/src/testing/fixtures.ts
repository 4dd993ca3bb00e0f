import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStudy, resolveStudyPaths, type Study } from '../study.js';

/** Helpers for this package's tests (not exported from the package). */

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'study'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `mitosis-exp-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The compiled fake `mitosis run` script (see fake-trial.ts). */
export const fakeTrialScript = fileURLToPath(new URL('./fake-trial.js', import.meta.url));

/** The repository root (this file is packages/experiments/dist/testing/fixtures.js). */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Writes a minimal search space document (all the executor looks at) and returns its path. */
export function writeFakeSpace(dir: string, extra: Record<string, unknown> = {}): string {
  const file = join(dir, 'fake-space.json');
  writeFileSync(file, `${JSON.stringify({ format: 'mitosis-search-space', version: 1, id: 'fake-space', ...extra }, null, 2)}\n`);
  return file;
}

/** A validated study on `space` with the given overrides. */
export function fakeStudy(space: string, overrides: Record<string, unknown> = {}): Study {
  return resolveStudyPaths(
    parseStudy(
      {
        format: 'mitosis-study',
        version: 1,
        id: 'fake',
        space,
        methods: [{ id: 'energy-aware' }, { id: 'prune-l1' }, { id: 'width-multiplier', label: 'width' }],
        budgets: { unit: 'macs', values: [300000, 450000] },
        seeds: [0, 1],
        rounds: 2,
        reference: 'width',
        ...overrides,
      },
      'test',
    ),
    process.cwd(),
  );
}
