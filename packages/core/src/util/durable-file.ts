import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { NasError } from '../errors.js';

/**
 * Durable writes: every file mitosis writes into a run or study directory goes through these helpers, so that
 * a kill or a full disk at any moment leaves either the previous complete file or the new complete one, and an
 * error names the path and what was being written (`E_FS_WRITE`) instead of a raw `ENOSPC`.
 */

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'a folder on the path does not exist',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'the path is a folder',
  EEXIST: 'the path already exists',
  EMFILE: 'too many open files',
  EIO: 'an input/output error',
};

/**
 * A file-system failure as an `E_FS_WRITE` NasError naming the path, what was being done (`action`, e.g.
 * "write the run configuration") and the system's reason (`errno` in the details). A NasError passes through.
 */
export function fileSystemError(cause: unknown, path: string, action: string): NasError {
  if (NasError.is(cause)) return cause;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN';
  const reason = REASONS[errno] ?? (cause as Error | undefined)?.message ?? 'unknown error';
  return new NasError('E_FS_WRITE', `Cannot ${action}: ${path}: ${reason} (${errno}); files written before are kept`, { file: path, errno, action }, { cause });
}

/** `error` as {@link fileSystemError} when it is a system error (it has an `E…` errno code), else unchanged. */
export function asFileSystemError(error: unknown, path: string, action: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return !NasError.is(error) && typeof code === 'string' && /^E[A-Z]+$/.test(code) ? fileSystemError(error, path, action) : error;
}

/**
 * Creates `dir` and its missing parents; a failure is `E_FS_WRITE` with the real reason (a recursive mkdir on a
 * read-only or full file system reports a misleading `ENOENT`: the first missing folder is then created alone
 * to learn why, e.g. `EROFS`).
 */
export function ensureDirectory(dir: string, action = 'create a folder'): void {
  try {
    mkdirSync(dir, { recursive: true });
    return;
  } catch (error) {
    let cause: unknown = error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      let missing = dir;
      while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
      try {
        mkdirSync(missing);
      } catch (inner) {
        cause = inner;
      }
    }
    throw fileSystemError(cause, dir, action);
  }
}

// --- write points (a test hook for kill-point tests) ------------------------------------------------------

/** A place where a durable helper is about to change the file system. */
export interface WritePoint {
  /** 1-based count of write points in this process. */
  readonly index: number;
  /** `file` (data into a file), `append` (a line onto a log), `rename` (a file or folder moved into place). */
  readonly kind: 'file' | 'append' | 'rename';
  readonly path: string;
}

let writePoints = 0;
let writePointHook: ((point: WritePoint) => void) | undefined;
/** Errors thrown by the hook: they unwind like a crash (no clean-up, no wrapping) through the helpers. */
const simulatedCrashes = new WeakSet<object>();

/**
 * Installs (or, with `undefined`, removes) a function called before every durable write. When it throws, the
 * helper first writes half of its data where the write was going (a temporary file, or the end of a log) and
 * then rethrows without cleaning up, as a crash in the middle of that write would leave things. For
 * kill-point tests only.
 */
export function setWritePointHook(hook: ((point: WritePoint) => void) | undefined): void {
  writePointHook = hook;
}

const isSimulatedCrash = (error: unknown): boolean => typeof error === 'object' && error !== null && simulatedCrashes.has(error);

/**
 * Counts a write point and runs the hooks: `MITOSIS_TEST_KILL_AT_WRITE=N` kills the process (SIGKILL) at the
 * N-th write point after writing half of that write (`partial`); the hook set by {@link setWritePointHook}
 * may throw after the same half-write.
 */
function writePoint(kind: WritePoint['kind'], path: string, partial: () => void): void {
  writePoints += 1;
  const point: WritePoint = { index: writePoints, kind, path };
  const killAt = Number(process.env['MITOSIS_TEST_KILL_AT_WRITE']);
  if (Number.isInteger(killAt) && killAt === point.index) {
    partial();
    process.kill(process.pid, 'SIGKILL');
  }
  if (writePointHook !== undefined) {
    try {
      writePointHook(point);
    } catch (error) {
      if (typeof error === 'object' && error !== null) simulatedCrashes.add(error);
      partial();
      throw error;
    }
  }
}

// --- files -------------------------------------------------------------------------------------------------

const bytesOf = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
}

/** Writes `bytes` to a new or truncated `file` and fsyncs it (no rename). */
function writeSynced(file: string, bytes: Uint8Array, flags: string): void {
  const fd = openSync(file, flags, 0o644);
  try {
    writeAll(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Fsyncs a folder, so that a rename or a new entry in it survives a power loss (a no-op where unsupported). */
export function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a folder (EINVAL/EISDIR/EPERM): the rename itself is still atomic.
  } finally {
    closeSync(fd);
  }
}

const stamp = (): string => `${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 0x7fffffff).toString(36)}`;

/**
 * Replaces `file` atomically: the data goes to a temporary sibling (`.<name>.tmp-<pid>-…`), is fsynced, renamed
 * over `file`, and the folder is fsynced. A crash leaves the old file or the new one, never half of either (a
 * leftover temporary file is removed by {@link removeStaleTemporaries}). Errors are `E_FS_WRITE` naming
 * `file` and `action`; the old file is untouched then.
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, action = 'write a file'): void {
  const bytes = bytesOf(data);
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${stamp()}`);
  const fail = (error: unknown): NasError => {
    rmSync(tmp, { force: true });
    return fileSystemError(error, file, action);
  };
  writePoint('file', tmp, () => writeSynced(tmp, bytes.subarray(0, bytes.byteLength >> 1), 'wx'));
  try {
    writeSynced(tmp, bytes, 'wx');
  } catch (error) {
    throw fail(error);
  }
  writePoint('rename', file, () => undefined);
  try {
    renameSync(tmp, file);
  } catch (error) {
    throw fail(error);
  }
  fsyncDirectory(dirname(file));
}

/**
 * Writes a new file inside a folder that is not yet visible (the temporary folder of
 * {@link writeDirectoryAtomically}) and fsyncs it. Errors are `E_FS_WRITE`.
 */
export function writeFileDurableSync(file: string, data: string | Uint8Array, action = 'write a file'): void {
  const bytes = bytesOf(data);
  writePoint('file', file, () => writeSynced(file, bytes.subarray(0, bytes.byteLength >> 1), 'w'));
  try {
    writeSynced(file, bytes, 'w');
  } catch (error) {
    throw fileSystemError(error, file, action);
  }
}

/**
 * Appends `text` (one or more complete lines) to `file` and fsyncs it before returning: an append-only log.
 * Nothing already in the file is rewritten. Errors are `E_FS_WRITE`.
 */
export function appendDurableSync(file: string, text: string, action = 'append to a log'): void {
  const bytes = bytesOf(text);
  writePoint('append', file, () => writeSynced(file, bytes.subarray(0, bytes.byteLength >> 1), 'a'));
  try {
    writeSynced(file, bytes, 'a');
  } catch (error) {
    throw fileSystemError(error, file, action);
  }
}

/**
 * If `file` exists and its last byte is not a newline (a line torn by a crash mid-append), appends one, so
 * the next record starts on its own line and the torn one stays a single unreadable line that readers skip.
 */
export function terminateTornLine(file: string, action = 'append to a log'): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size === 0) return false;
  const fd = openSync(file, 'r');
  const last = Buffer.alloc(1);
  try {
    readSyncAt(fd, last, size - 1);
  } finally {
    closeSync(fd);
  }
  if (last[0] === 0x0a) return false;
  appendDurableSync(file, '\n', action);
  return true;
}

function readSyncAt(fd: number, into: Buffer, position: number): void {
  if (readSync(fd, into, 0, into.byteLength, position) !== into.byteLength) throw new Error('short read');
}

// --- folders -----------------------------------------------------------------------------------------------

/** The file of a folder's checksums, written last. */
export const CHECKSUMS_FILE = 'checksums.json';

/**
 * SHA-256 and size of every regular file of `dir` (recursively, `/`-separated names), except
 * {@link CHECKSUMS_FILE} and, at the top level, names outside `only` (when given) or starting with a dot.
 */
export function computeChecksums(dir: string, only?: readonly string[]): Record<string, { bytes: number; sha256: string }> {
  const out: Record<string, { bytes: number; sha256: string }> = {};
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      const rel = sub === '' ? name : `${sub}/${name}`;
      if (rel === CHECKSUMS_FILE || (sub === '' && (name.startsWith('.') || (only !== undefined && !only.includes(name))))) continue;
      const st = lstatSync(join(dir, rel));
      if (st.isDirectory()) walk(rel);
      else if (st.isFile()) {
        const data = readFileSync(join(dir, rel));
        out[rel] = { bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
      }
    }
  };
  walk('');
  return out;
}

/**
 * Writes `checksums.json` for the files of `dir` (of the top-level entries `only`, when given), after every
 * other file is written. Inside a folder not yet visible it is written in place; with `atomic` (a visible
 * folder, e.g. a finished run directory) it replaces the previous manifest atomically.
 */
export function writeChecksums(dir: string, options: { readonly only?: readonly string[]; readonly atomic?: boolean } = {}): void {
  const files = computeChecksums(dir, options.only);
  const text = `${JSON.stringify({ format: 'mitosis-checksums', version: 1, algorithm: 'sha256', files }, null, 1)}\n`;
  if (options.atomic === true) writeFileAtomicSync(join(dir, CHECKSUMS_FILE), text, 'write checksums');
  else writeFileDurableSync(join(dir, CHECKSUMS_FILE), text, 'write checksums');
}

/** Where {@link verifyChecksums} found a problem. */
export interface ChecksumProblem {
  /** The damaged, missing or unexpected file (or `checksums.json` itself). */
  readonly file: string;
  readonly message: string;
}

/**
 * Checks `dir` against its `checksums.json`: the manifest must exist and parse, and every file it lists must
 * exist with the listed size and SHA-256. Returns the first problem, or null when the folder is intact.
 * Files not in the manifest are ignored.
 */
export function checkChecksums(dir: string): ChecksumProblem | null {
  const manifestFile = join(dir, CHECKSUMS_FILE);
  let manifest: { format?: unknown; algorithm?: unknown; files?: unknown };
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as typeof manifest;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      file: manifestFile,
      message: missing ? `has no ${CHECKSUMS_FILE} (it is written last: the folder is incomplete, or older than checksums)` : `${CHECKSUMS_FILE} is unreadable (${(error as Error).message})`,
    };
  }
  const files = manifest?.files;
  if (manifest?.format !== 'mitosis-checksums' || manifest.algorithm !== 'sha256' || typeof files !== 'object' || files === null || Array.isArray(files)) {
    return { file: manifestFile, message: `${CHECKSUMS_FILE} is not a mitosis sha256 checksum manifest` };
  }
  for (const [name, entry] of Object.entries(files as Record<string, unknown>)) {
    const e = entry as { bytes?: unknown; sha256?: unknown } | null;
    if (name.split('/').some((s) => s === '..' || s === '' || s === '.') || typeof e?.sha256 !== 'string' || typeof e.bytes !== 'number') {
      return { file: manifestFile, message: `${CHECKSUMS_FILE} has a malformed entry "${name}"` };
    }
    const path = join(dir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return { file: path, message: 'is missing' };
    }
    if (!st.isFile()) return { file: path, message: 'is not a regular file' };
    if (st.size !== e.bytes) return { file: path, message: `holds ${st.size} bytes, ${CHECKSUMS_FILE} says ${e.bytes}` };
    const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (sha !== e.sha256) return { file: path, message: `does not match its SHA-256 in ${CHECKSUMS_FILE} (damaged or edited)` };
  }
  return null;
}

/**
 * Runs `write(tmp)` on a fresh temporary sibling folder (`.<name>.tmp-<pid>-…`), fsyncs every file, writes
 * `checksums.json` last when `options.checksums`, then swaps the folder into place at `dir` (an older `dir` is
 * moved aside as `.<name>.old-…` and removed once the new one is in place), so that a crash leaves the old
 * folder or the complete new one. Files written by `write` should go through {@link writeFileDurableSync}.
 */
export async function writeDirectoryAtomically(
  dir: string,
  write: (tmp: string) => Promise<void> | void,
  options: { readonly checksums?: boolean; readonly action?: string } = {},
): Promise<void> {
  const action = options.action ?? 'write a folder';
  const id = stamp();
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${id}`);
  const old = join(dirname(dir), `.${basename(dir)}.old-${id}`);
  ensureDirectory(dirname(dir), action);
  try {
    mkdirSync(tmp);
  } catch (error) {
    throw fileSystemError(error, dir, action);
  }
  try {
    await write(tmp);
    if (options.checksums === true) writeChecksums(tmp);
    fsyncDirectory(tmp);
  } catch (error) {
    if (isSimulatedCrash(error)) throw error;
    rmSync(tmp, { recursive: true, force: true });
    if (NasError.is(error, 'E_FS_WRITE')) {
      // Name the folder being written, not its temporary copy.
      const { errno, file } = error.details as { errno: string; file: string };
      throw new NasError('E_FS_WRITE', `Cannot ${action}: ${dir}: ${REASONS[errno] ?? errno} (${errno}) while writing ${basename(file)}; files written before are kept`, {
        file: dir,
        errno,
        action,
      }, { cause: error });
    }
    throw asFileSystemError(error, dir, action);
  }
  let movedOld = false;
  if (existsSync(dir)) {
    writePoint('rename', old, () => undefined);
    try {
      renameSync(dir, old);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      throw fileSystemError(error, dir, action);
    }
    movedOld = true;
  }
  writePoint('rename', dir, () => undefined);
  try {
    renameSync(tmp, dir);
  } catch (error) {
    // Put the old folder back when the new one could not take its place.
    if (movedOld && !existsSync(dir)) {
      try {
        renameSync(old, dir);
      } catch {
        // left as .<name>.old-*: removeStaleTemporaries restores it
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    throw fileSystemError(error, dir, action);
  }
  fsyncDirectory(dirname(dir));
  if (movedOld) rmSync(old, { recursive: true, force: true });
}

const TEMP_NAME = /^\.(.+)\.(tmp|old)-\d+-[0-9a-z]+(?:-[0-9a-z]+)?$/;

/**
 * Cleans what a crash can leave in `dir` (not recursive): temporary files and folders of the helpers above
 * (`.<name>.tmp-*`) are removed, and a folder moved aside (`.<name>.old-*`) is put back when `<name>` is
 * missing (the crash came between the two renames of a swap) or removed otherwise. Call it only while holding
 * the folder's lock. Returns the names removed or restored.
 */
export function removeStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const cleaned: string[] = [];
  for (const name of names.sort()) {
    const m = TEMP_NAME.exec(name);
    if (m === null) continue;
    const target = join(dir, m[1]!);
    try {
      if (m[2] === 'old' && !existsSync(target)) renameSync(join(dir, name), target);
      else rmSync(join(dir, name), { recursive: true, force: true });
      cleaned.push(name);
    } catch (error) {
      throw fileSystemError(error, join(dir, name), 'remove a temporary file left by an interrupted write');
    }
  }
  if (cleaned.length > 0) fsyncDirectory(dir);
  return cleaned;
}

// --- locks -------------------------------------------------------------------------------------------------

/** True when a process with this pid runs on this host (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file of a folder guarded by {@link lockDirectory}. */
export const LOCK_FILE = '.lock';

/**
 * Takes `<dir>/.lock` for this process, so that two writers never share a run directory. The lock file holds
 * `{pid, host, since}` and is created atomically (written under a temporary name, then hard-linked into place,
 * which fails when a lock exists). A lock left by a process that no longer runs on this host (or an unreadable
 * one, torn by a crash) is taken over; a live one is `E_USAGE` naming its pid; a lock from another host is
 * `E_USAGE` asking to remove it by hand. Returns the release function (it removes the lock only if it is
 * still this process's).
 */
export function lockDirectory(dir: string, what = 'run'): () => void {
  const file = join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = join(dir, `.lock.tmp-${stamp()}`);
    try {
      writeSynced(tmp, Buffer.from(`${mine}\n`), 'wx');
      try {
        linkSync(tmp, file);
        fsyncDirectory(dir);
        return () => {
          try {
            if (readFileSync(file, 'utf8').trim() === mine) unlinkSync(file);
          } catch {
            // already gone
          }
        };
      } finally {
        rmSync(tmp, { force: true });
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileSystemError(error, file, `lock the ${what} directory`);
    }
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // released meanwhile: try again
    }
    let holder: { pid?: unknown; host?: unknown } = {};
    try {
      holder = JSON.parse(text) as typeof holder;
    } catch {
      // torn by a crash while it was being written (cannot happen with link(), kept for older locks)
    }
    const pid = typeof holder.pid === 'number' ? holder.pid : Number.NaN;
    if (typeof holder.host === 'string' && holder.host !== hostname()) {
      throw new NasError('E_USAGE', `${dir} is locked by process ${pid} on host ${holder.host}; if no mitosis runs there any more, remove ${file}`, {
        file,
        pid,
        host: holder.host,
      });
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new NasError('E_USAGE', `Another mitosis process (pid ${pid}) is writing to the ${what} directory ${dir}; wait for it, stop it, or choose another --out (if pid ${pid} is not mitosis, remove ${file})`, {
        file,
        pid,
      });
    }
    // Stale: its process is gone. Remove it only if it still holds what we judged stale.
    try {
      if (readFileSync(file, 'utf8') === text) unlinkSync(file);
    } catch {
      // removed by someone else meanwhile
    }
  }
  throw new NasError('E_USAGE', `Cannot take the lock ${file}: another process keeps taking it`, { file });
}
