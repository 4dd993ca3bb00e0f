import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isAbsolute, join, relative, sep, win32 } from 'node:path';
import { NasError, type NasErrorCode, type NasErrorDetails } from '../errors.js';

/** Where a file reference was found, so that a violation names the referring file and its field. */
export interface FileReference {
  /** Code of the error a violation raises: `E_MODEL_FORMAT` for models, `E_PLUGIN_LOAD` for plugins, … */
  readonly code: NasErrorCode;
  /** The file holding the reference (a `model.json`, a plugin's `package.json`). */
  readonly file: string;
  /** JSON pointer of the referring field, e.g. `/weightsManifest/0/paths/0`. */
  readonly pointer: string;
  /** Names the folder in messages, e.g. `model folder` (the default: `folder`). */
  readonly folderLabel?: string;
  /** Extra JSON details added to every error (e.g. `{ plugin }`). */
  readonly details?: NasErrorDetails;
  /** Refuse files larger than this many bytes before reading them. */
  readonly maxBytes?: number;
  /** Appended to the message when the file does not exist, e.g. `(is the plugin built?)`. */
  readonly missingHint?: string;
}

/** A file that a folder's document refers to, checked to lie inside that folder. */
export interface ContainedFile {
  /** The folder joined with the reference, as the user sees it. */
  readonly path: string;
  /** Its real path (symbolic links resolved); inside the real path of the folder. */
  readonly realPath: string;
  /** Size in bytes (from `stat`, before anything is read). */
  readonly size: number;
  /** The reference this file was resolved from, for later errors. */
  readonly where: FileReference;
}

const fieldName = (pointer: string): string => pointer.replace(/^\//, '');

function fail(where: FileReference, message: string, details: NasErrorDetails, cause?: unknown): NasError {
  return new NasError(where.code, message, { file: where.file, pointer: where.pointer, ...where.details, ...details }, cause === undefined ? undefined : { cause });
}

/** True when `child` is `parent` itself or lies under it (both absolute, normalised). */
function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Resolves `reference` — a path that a document in `folder` names in the field `where.pointer` — to a regular
 * file inside `folder`, without reading it. Refused with `where.code`, naming `where.file` and the field: a
 * reference that is not a non-empty relative path, one that is absolute (POSIX or Windows form), one with a
 * `..` segment, one whose real path (symbolic links resolved) lies outside the real path of `folder`, one that
 * is not a regular file, and one larger than `where.maxBytes`. A file found outside the folder is never
 * opened and its size is never reported.
 */
export function resolveContainedFile(folder: string, reference: unknown, where: FileReference): ContainedFile {
  const label = where.folderLabel ?? 'folder';
  const field = fieldName(where.pointer);
  if (typeof reference !== 'string' || reference.length === 0 || reference.includes('\0')) {
    throw fail(where, `${where.file}: ${field} must be a non-empty relative file name inside the ${label}`, { reference: typeof reference === 'string' ? reference : null });
  }
  if (isAbsolute(reference) || win32.isAbsolute(reference)) {
    throw fail(where, `${where.file}: ${field} "${reference}" is an absolute path; it must name a file inside the ${label} ${folder}`, { reference });
  }
  if (reference.split(/[\\/]/).includes('..')) {
    throw fail(where, `${where.file}: ${field} "${reference}" contains "..", which is not allowed; it must name a file inside the ${label} ${folder}`, {
      reference,
    });
  }
  const path = join(folder, reference);
  let realFolder: string;
  try {
    realFolder = realpathSync(folder);
  } catch (cause) {
    throw fail(where, `${where.file}: the ${label} ${folder} cannot be resolved (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { folder }, cause);
  }
  let realPath: string;
  try {
    realPath = realpathSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT' ? `does not exist${where.missingHint === undefined ? '' : ` ${where.missingHint}`}` : `cannot be resolved (${code ?? 'error'})`;
    throw fail(where, `${where.file}: ${field} "${reference}": ${path} ${what}`, { reference, target: path }, cause);
  }
  if (!isInside(realFolder, realPath)) {
    // Only the reference is reported: nothing about the outside file (its name, size or content).
    throw fail(where, `${where.file}: ${field} "${reference}" resolves (through a symbolic link) outside the ${label} ${folder}`, { reference });
  }
  let info;
  try {
    info = statSync(realPath);
  } catch (cause) {
    throw fail(where, `${where.file}: ${field} "${reference}": ${path} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { reference, target: path }, cause);
  }
  if (!info.isFile()) {
    throw fail(where, `${where.file}: ${field} "${reference}": ${path} is not a regular file`, { reference, target: path });
  }
  if (where.maxBytes !== undefined && info.size > where.maxBytes) {
    throw fail(where, `${where.file}: ${field} "${reference}": ${path} has ${info.size} bytes, more than the limit of ${where.maxBytes}`, {
      reference,
      target: path,
      bytes: info.size,
      maxBytes: where.maxBytes,
    });
  }
  return { path, realPath, size: info.size, where };
}

// O_NOFOLLOW refuses a symbolic link swapped in after the check (not defined on Windows).
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

function changed(file: ContainedFile, cause?: unknown): NasError {
  return fail(
    file.where,
    `${file.where.file}: ${fieldName(file.where.pointer)}: ${file.path} changed while it was being read`,
    { target: file.path },
    cause,
  );
}

/**
 * Reads exactly `file.size` bytes of a file checked by {@link resolveContainedFile}. The opened file must still
 * be a regular file of that size, so a file replaced after the check is refused rather than read.
 */
export async function readContainedFile(file: ContainedFile): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(file.realPath, READ_FLAGS);
  } catch (cause) {
    throw changed(file, cause);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size !== file.size) throw changed(file);
    const out = new Uint8Array(file.size);
    let at = 0;
    while (at < out.length) {
      const { bytesRead } = await handle.read(out, at, out.length - at, at);
      if (bytesRead === 0) throw changed(file);
      at += bytesRead;
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** Synchronous {@link readContainedFile}, for small files (manifests, sidecars). */
export function readContainedFileSync(file: ContainedFile): Uint8Array {
  let fd: number;
  try {
    fd = openSync(file.realPath, READ_FLAGS);
  } catch (cause) {
    throw changed(file, cause);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.size !== file.size) throw changed(file);
    const out = new Uint8Array(file.size);
    let at = 0;
    while (at < out.length) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0) throw changed(file);
      at += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
