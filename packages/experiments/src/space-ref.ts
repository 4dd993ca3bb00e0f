import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NasError, readJsonFile } from '@mitosis/core';
import { canonicalJson, sha256Hex } from './canonical.js';

/** A search space found by id or path, with its content and the hash of that content. */
export interface ResolvedSpace {
  /** The reference as the study gave it. */
  readonly ref: string;
  /** Absolute path of the space file the trials run on. */
  readonly file: string;
  /** The space's own `id`. */
  readonly id: string;
  /** The parsed document: trial ids hash this, so editing the space starts new trials. */
  readonly content: unknown;
  /** SHA-256 of the canonical JSON of `content`. */
  readonly sha256: string;
}

/**
 * Directories that hold shipped search spaces: `MITOSIS_SEARCH_SPACES`, then the first `search-spaces/`
 * found walking up from this package (the same places `mitosis run --space <id>` looks).
 */
export function spaceDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  const fromEnv = env['MITOSIS_SEARCH_SPACES'];
  if (fromEnv !== undefined && fromEnv !== '') dirs.push(resolve(fromEnv));
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'search-spaces');
    if (existsSync(candidate)) {
      dirs.push(candidate);
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dirs;
}

/**
 * Finds a study's search space: a path (ends in `.json` or contains a slash; relative to `baseDir`) or a
 * shipped id. Checks only that the file is a search space document (`format`, `id`); the full validation is
 * `mitosis run`'s. Throws `E_USAGE` for an unknown id (listing the known ones), `E_CONFIG_READ` for an
 * unreadable file, `E_CONFIG_INVALID` (with pointers) for a document that is not a search space.
 */
export function resolveSpace(ref: string, baseDir: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): ResolvedSpace {
  let file: string | undefined;
  if (ref.endsWith('.json') || ref.includes('/') || ref.includes('\\')) file = resolve(baseDir, ref);
  else {
    const dirs = spaceDirectories(env);
    file = dirs.map((d) => join(d, `${ref}.json`)).find((f) => existsSync(f));
    if (file === undefined) {
      const known = [...new Set(dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json'))))].sort();
      throw new NasError('E_USAGE', `Unknown search space "${ref}" (known: ${known.join(', ')}); give an id or a .json path`, {
        id: ref,
        known,
      });
    }
  }
  const content = readJsonFile(file);
  const doc = content as Record<string, unknown>;
  const problems: { pointer: string; message: string }[] = [];
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    problems.push({ pointer: '/', message: 'must be an object' });
  } else {
    if (doc['format'] !== 'mitosis-search-space') problems.push({ pointer: '/format', message: 'must be "mitosis-search-space"' });
    if (typeof doc['id'] !== 'string') problems.push({ pointer: '/id', message: 'must be a string' });
  }
  if (problems.length > 0) {
    throw new NasError('E_CONFIG_INVALID', `${file} is not a search space: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`, {
      file,
      problems,
    });
  }
  return { ref, file, id: doc['id'] as string, content, sha256: sha256Hex(canonicalJson(content)) };
}
