import { lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { NasError, ensureDirectory, writeFileAtomicSync } from '@mitosis/core';
import { TRIAL_FILES } from '../plan.js';

/** Default bound on a finished trial's files sent back through Redis (bytes before base64). */
export const DEFAULT_MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;

/** A trial's files as they travel in a job's return value: relative path → base64 content. */
export type ArtifactFiles = Readonly<Record<string, string>>;

/** Subdirectories of a run that stay on the worker: checkpoints are only needed to resume, not as a result. */
const LEFT_BEHIND_DIRS = new Set(['checkpoints']);
const isTemporary = (name: string): boolean => /\.tmp(-\d+)?$/.test(name) || name.includes('.tmp-');
/** A relative path a worker may name: plain segments, no `.`/`..`, no absolute path, no backslash. */
const SAFE_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** Whether `path` is a relative path that stays inside the trial directory. */
export function safeArtifactPath(path: string): boolean {
  return path.length <= 512 && SAFE_PATH.test(path);
}

/**
 * The files of a finished trial directory that make its result: `summary.json`, `events.jsonl`, `trial.log`,
 * `trial.json`, `run.json`, the final `model/` folder and any other plain file, but not `checkpoints/`, temporary
 * files or links. Relative paths with `/`, sorted.
 */
export function listArtifacts(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    const abs = rel === '' ? dir : join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(abs, name));
      if (st.isDirectory()) {
        if (!(rel === '' && LEFT_BEHIND_DIRS.has(name))) walk(relPath);
      } else if (st.isFile() && !isTemporary(name) && safeArtifactPath(relPath)) found.push(relPath);
    }
  };
  walk('');
  return found;
}

/**
 * Reads a finished trial's artifacts into a JSON-safe map of base64 contents. `E_RUN_FAILED` naming the
 * largest files when they add up to more than `maxBytes`: such a trial needs `--shared-dir` (or a larger
 * `--max-artifact-mb` on the worker, within what Redis holds).
 */
export function packArtifacts(dir: string, maxBytes: number = DEFAULT_MAX_ARTIFACT_BYTES): { files: Record<string, string>; bytes: number } {
  const paths = listArtifacts(dir);
  const sizes = paths.map((p) => ({ p, size: lstatSync(join(dir, ...p.split('/'))).size }));
  const bytes = sizes.reduce((a, b) => a + b.size, 0);
  if (bytes > maxBytes) {
    const biggest = [...sizes].sort((a, b) => b.size - a.size).slice(0, 3).map((s) => `${s.p} ${mib(s.size)}`);
    throw new NasError(
      'E_RUN_FAILED',
      `The trial's files in ${dir} are ${mib(bytes)}, over the ${mib(maxBytes)} that travel through Redis (largest: ${biggest.join(', ')}); run the workers with --shared-dir on a directory the coordinator sees, or raise --max-artifact-mb`,
      { dir, bytes, maxBytes },
    );
  }
  const files: Record<string, string> = {};
  for (const p of paths) files[p] = readFileSync(join(dir, ...p.split('/'))).toString('base64');
  return { files, bytes };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 3 : 1)} MiB`;
}

function writeAtomic(file: string, data: Buffer): void {
  ensureDirectory(dirname(file), 'create a trial folder');
  writeFileAtomicSync(file, data, 'write a trial artifact');
}

/**
 * Writes a trial's artifacts into `dir` (the coordinator's trial directory): every path is checked to stay
 * inside it, every file is written through a temporary sibling and a rename, and `summary.json` comes last —
 * a trial counts as done only once it exists, so a coordinator killed half-way writes it all again on the next
 * run. Path fields of the summary that pointed into the worker's directory `workerDir` are rewritten to `dir`.
 * `E_RUN_FAILED` for a bad path, a non-base64 value, more than `maxBytes` or a missing / unreadable summary.
 */
export function unpackArtifacts(files: unknown, dir: string, workerDir: string, maxBytes: number = DEFAULT_MAX_ARTIFACT_BYTES): { bytes: number } {
  const bad = (why: string): NasError => new NasError('E_RUN_FAILED', `A worker sent back unusable files for ${dir}: ${why}`, { dir });
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw bad('not a map of files');
  const entries = Object.entries(files as Record<string, unknown>);
  const decoded: [string, Buffer][] = [];
  let bytes = 0;
  for (const [path, value] of entries) {
    if (!safeArtifactPath(path)) throw bad(`the path ${JSON.stringify(path.slice(0, 80))} leaves the trial directory or has odd characters`);
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw bad(`${path} is not base64`);
    const data = Buffer.from(value, 'base64');
    bytes += data.length;
    if (bytes > maxBytes) throw bad(`more than ${mib(maxBytes)}`);
    decoded.push([path, data]);
  }
  const summary = decoded.find(([p]) => p === TRIAL_FILES.summary);
  if (summary === undefined) throw bad(`no ${TRIAL_FILES.summary}`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(summary[1].toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad(`${TRIAL_FILES.summary} is not JSON`);
  }
  mkdirSync(dir, { recursive: true });
  for (const [path, data] of decoded) {
    if (path !== TRIAL_FILES.summary) writeAtomic(join(dir, ...path.split('/')), data);
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && workerDir !== '') {
    for (const [k, v] of Object.entries(doc)) {
      if (typeof v === 'string' && (v === workerDir || v.startsWith(`${workerDir}/`) || v.startsWith(`${workerDir}${sep}`))) {
        doc[k] = join(dir, v.slice(workerDir.length));
      }
    }
  }
  writeAtomic(join(dir, TRIAL_FILES.summary), Buffer.from(`${JSON.stringify(doc, null, 2)}\n`));
  return { bytes };
}
