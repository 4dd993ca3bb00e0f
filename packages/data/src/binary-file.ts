import { readFileSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import { NasError } from '@mitosis/core';

/** The bytes of a data file, after gunzip when the file starts with the gzip magic `1f 8b`. */
export interface DataFileBytes {
  readonly file: string;
  readonly bytes: Uint8Array;
  /** True when `bytes` were decompressed: offsets in errors then count decompressed bytes. */
  readonly gzipped: boolean;
}

/**
 * Reads a whole data file. A gzip file (detected by its magic number, whatever its name) is
 * decompressed
 * with node:zlib; a truncated gzip stream yields the bytes that could be decoded, so the format
 * check that
 * follows reports the truncated record with its offset. Throws `E_DATA_READ` with `{ file }` when
 * the file
 * cannot be read, or with `{ file, offset, compressed: true }` (the first undecodable byte of the
 * compressed
 * file) when the gzip stream is corrupt.
 */
export function readDataFile(file: string): DataFileBytes {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (cause) {
    throw new NasError('E_DATA_READ', `Cannot read ${file}: ${(cause as Error).message}`, { file }, { cause });
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      const bytes = gunzipSync(raw, { finishFlush: constants.Z_SYNC_FLUSH });
      return { file, bytes, gzipped: true };
    } catch (cause) {
      const offset = firstBadGzipByte(raw);
      throw new NasError(
        'E_DATA_READ',
        `${file} is a corrupt gzip stream: ${(cause as Error).message} at compressed byte offset ${offset} (remedy: re-download it)`,
        { file, offset, compressed: true },
        { cause },
      );
    }
  }
  return { file, bytes: new Uint8Array(raw.buffer, raw.byteOffset, raw.length), gzipped: false };
}

/**
 * Offset of the byte whose inclusion first makes a gzip prefix fail to decode (binary search over
 * prefix
 * lengths; zlib itself does not report where it failed). Only called on the error path.
 */
function firstBadGzipByte(raw: Uint8Array): number {
  const fails = (n: number): boolean => {
    try {
      gunzipSync(raw.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH });
      return false;
    } catch {
      return true;
    }
  };
  let ok = 0;
  let bad = raw.length;
  while (bad - ok > 1) {
    const mid = (ok + bad) >>> 1;
    if (fails(mid)) bad = mid;
    else ok = mid;
  }
  return bad - 1;
}

/**
 * `E_DATA_INVALID` for a malformed data file, naming the file and the byte offset of the problem
 * (`details.offset`; in decompressed bytes when `details.gzipped`).
 */
export function dataFileError(
  src: Pick<DataFileBytes, 'file' | 'gzipped'>,
  offset: number,
  problem: string,
  extra: Record<string, unknown> = {},
): NasError {
  const where = src.gzipped ? `decompressed byte offset ${offset}` : `byte offset ${offset}`;
  return new NasError('E_DATA_INVALID', `${src.file}: ${problem} at ${where}`, {
    file: src.file,
    offset,
    ...(src.gzipped ? { gzipped: true } : {}),
    ...extra,
  });
}
