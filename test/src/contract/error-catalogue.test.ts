import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EXIT_CODES, NasError, exitCodeFor } from '@mitosis/core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every TypeScript source file (tests excluded) under packages/<name>/src and plugins/<name>/src. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const top of ['packages', 'plugins']) {
    for (const pkg of readdirSync(join(repo, top), { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue;
      try {
        walk(join(repo, top, pkg.name, 'src'));
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOENT') throw error;
      }
    }
  }
  return files;
}

/** Code → where it occurs (file:line), for every `E_[A-Z_]+` in the sources. */
function codesInSources(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const m of line.matchAll(/\bE_[A-Z][A-Z_]*[A-Z]\b/g)) {
        const at = `${relative(repo, file)}:${i + 1}`;
        found.set(m[0], [...(found.get(m[0]) ?? []), at]);
      }
    });
  }
  return found;
}

/** The rows of docs/errors.md's catalogue: `| \`E_CODE\` | exit | meaning |`. */
function catalogue(): Map<string, { exit: number; meaning: string }> {
  const page = readFileSync(join(repo, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, { exit: number; meaning: string }>();
  for (const m of page.matchAll(/^\|\s*`(E_[A-Z_]+)`\s*\|\s*(\d)\s*\|(.*)\|\s*$/gm)) {
    assert.ok(!rows.has(m[1] as string), `${m[1]} is listed twice in docs/errors.md`);
    rows.set(m[1] as string, { exit: Number(m[2]), meaning: (m[3] as string).trim() });
  }
  return rows;
}

describe('error catalogue (docs/errors.md)', () => {
  const rows = catalogue();

  it('lists every E_* code that occurs in packages/*/src and plugins/*/src', () => {
    const found = codesInSources();
    assert.ok(found.size >= 20, `the scan found only ${found.size} codes: is it looking in the right place?`);
    const missing = [...found].filter(([code]) => !rows.has(code)).map(([code, at]) => `${code} (${at.slice(0, 3).join(', ')})`);
    assert.deepEqual(missing, [], `codes used in the sources but not in docs/errors.md: ${missing.join('; ')}`);
  });

  it('lists exactly the codes of NasErrorCode, each with a meaning', () => {
    assert.deepEqual([...rows.keys()].sort(), Object.keys(EXIT_CODES).sort());
    for (const [code, row] of rows) assert.ok(row.meaning.length > 20, `${code} needs a meaning`);
  });

  it("gives each code the exit code of errors.ts's table", () => {
    for (const [code, row] of rows) {
      assert.equal(row.exit, EXIT_CODES[code as keyof typeof EXIT_CODES], code);
      assert.equal(exitCodeFor(new NasError(code as keyof typeof EXIT_CODES, 'x')), row.exit, code);
    }
  });
});
