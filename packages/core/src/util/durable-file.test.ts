import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError } from '../errors.js';
import {
  appendDurableSync,
  checkChecksums,
  fileSystemError,
  lockDirectory,
  removeStaleTemporaries,
  setWritePointHook,
  terminateTornLine,
  writeChecksums,
  writeDirectoryAtomically,
  writeFileAtomicSync,
  writeFileDurableSync,
  type WritePoint,
} from './durable-file.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-durable-'));
after(() => rmSync(root, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

class Crash extends Error {}

/** Runs `work` with a hook that crashes at the `n`-th write point (1-based); returns the points seen. */
function crashAt(n: number, work: () => void): WritePoint[] {
  const seen: WritePoint[] = [];
  setWritePointHook((p) => {
    seen.push(p);
    if (seen.length === n) throw new Crash(`crash at ${p.kind} ${p.path}`);
  });
  try {
    assert.throws(work, Crash);
  } finally {
    setWritePointHook(undefined);
  }
  return seen;
}

describe('writeFileAtomicSync', () => {
  it('replaces a file; a crash mid-write or before the rename leaves the old file and a temporary one that the clean-up removes', () => {
    const dir = join(root, 'atomic');
    mkdirSync(dir);
    const file = join(dir, 'run.json');
    writeFileAtomicSync(file, '{"v":1}\n');
    for (const n of [1, 2]) {
      const seen = crashAt(n, () => writeFileAtomicSync(file, '{"v":2, "long": "x"}\n'));
      assert.deepEqual(seen.map((p) => p.kind), n === 1 ? ['file'] : ['file', 'rename']);
      assert.equal(readFileSync(file, 'utf8'), '{"v":1}\n', 'the old file is intact');
      const leftovers = readdirSync(dir).filter((f) => f.startsWith('.run.json.tmp-'));
      assert.equal(leftovers.length, 1);
      assert.deepEqual(removeStaleTemporaries(dir), leftovers);
      assert.deepEqual(readdirSync(dir), ['run.json']);
    }
    writeFileAtomicSync(file, '{"v":3}\n');
    assert.equal(readFileSync(file, 'utf8'), '{"v":3}\n');
  });

  it('turns a write into a missing or read-only folder into E_FS_WRITE naming the path and the action', { skip: isRoot ? 'root ignores permissions' : false }, () => {
    const ro = join(root, 'ro');
    mkdirSync(ro);
    writeFileSync(join(ro, 'summary.json'), 'old');
    chmodSync(ro, 0o500);
    try {
      assert.throws(
        () => writeFileAtomicSync(join(ro, 'summary.json'), 'new', 'write the run summary'),
        (e: unknown) => NasError.is(e, 'E_FS_WRITE') && e.details['errno'] === 'EACCES' && e.details['file'] === join(ro, 'summary.json') && /write the run summary/.test(e.message),
      );
      assert.equal(readFileSync(join(ro, 'summary.json'), 'utf8'), 'old', 'nothing already written is lost');
    } finally {
      chmodSync(ro, 0o700);
    }
  });

  it('names ENOSPC, EROFS and a missing folder in words', () => {
    for (const [errno, words] of [['ENOSPC', /disk is full/], ['EROFS', /read-only/], ['EACCES', /permission denied/]] as const) {
      const e = fileSystemError(Object.assign(new Error(errno), { code: errno }), '/x/y', 'write a checkpoint');
      assert.ok(NasError.is(e, 'E_FS_WRITE'));
      assert.match(e.message, words);
      assert.match(e.message, /\/x\/y/);
    }
    assert.throws(
      () => writeFileAtomicSync(join(root, 'missing', 'a.json'), 'x', 'write the run configuration'),
      (e: unknown) => NasError.is(e, 'E_FS_WRITE') && e.details['errno'] === 'ENOENT' && /folder on the path does not exist/.test(e.message),
    );
  });
});

describe('a full disk (/dev/full answers every write with ENOSPC)', () => {
  it('an append or a file write is E_FS_WRITE naming the path and the action; earlier lines are kept', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, () => {
    const dir = join(root, 'full');
    mkdirSync(dir);
    const log = join(dir, 'events.jsonl');
    symlinkSync('/dev/full', log);
    assert.throws(
      () => appendDurableSync(log, '{"type":"round"}\n', 'append to the run log'),
      (e: unknown) => NasError.is(e, 'E_FS_WRITE') && e.details['errno'] === 'ENOSPC' && e.details['file'] === log && /append to the run log: .*the disk is full/.test(e.message),
    );
    const weights = join(dir, 'weights.bin');
    symlinkSync('/dev/full', weights);
    assert.throws(() => writeFileDurableSync(weights, new Uint8Array(16), 'write a checkpoint'), (e: unknown) => NasError.is(e, 'E_FS_WRITE') && e.details['errno'] === 'ENOSPC');
  });
});

describe('appendDurableSync', () => {
  it('appends lines; a crash mid-append leaves a torn last line, which terminateTornLine closes without rewriting anything', () => {
    const file = join(root, 'events.jsonl');
    appendDurableSync(file, '{"type":"start"}\n');
    crashAt(1, () => appendDurableSync(file, '{"type":"round","round":1}\n'));
    const torn = readFileSync(file, 'utf8');
    assert.ok(torn.startsWith('{"type":"start"}\n{"type":"ro'));
    assert.ok(!torn.endsWith('\n'));
    assert.equal(terminateTornLine(file), true);
    assert.equal(terminateTornLine(file), false);
    appendDurableSync(file, '{"type":"resume","round":0}\n');
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.equal(lines[0], '{"type":"start"}');
    assert.ok(lines[1]!.startsWith('{"type":"ro'), 'the torn line is kept, alone');
    assert.equal(lines[2], '{"type":"resume","round":0}');
  });
});

describe('writeDirectoryAtomically with checksums', () => {
  it('writes checksums.json last; checkChecksums names a changed, truncated or missing file', async () => {
    const dir = join(root, 'ck', 'round-001');
    await writeDirectoryAtomically(dir, (tmp) => {
      writeFileDurableSync(join(tmp, 'a.bin'), new Uint8Array([1, 2, 3, 4]));
      writeFileDurableSync(join(tmp, 'state.json'), '{"round":1}\n');
    }, { checksums: true });
    assert.equal(checkChecksums(dir), null);
    writeFileSync(join(dir, 'a.bin'), new Uint8Array([1, 2, 3, 5]));
    assert.deepEqual(checkChecksums(dir)?.file, join(dir, 'a.bin'));
    assert.match(checkChecksums(dir)!.message, /SHA-256/);
    writeFileSync(join(dir, 'a.bin'), new Uint8Array([1, 2, 3]));
    assert.match(checkChecksums(dir)!.message, /holds 3 bytes/);
    rmSync(join(dir, 'a.bin'));
    assert.match(checkChecksums(dir)!.message, /missing/);
    rmSync(join(dir, 'checksums.json'));
    assert.match(checkChecksums(dir)!.message, /has no checksums\.json/);
    writeFileSync(join(dir, 'checksums.json'), '{"format":"mitosis-checksums","algorithm":"sha256","files":{"../x":{"bytes":1,"sha256":"0"}}}');
    assert.match(checkChecksums(dir)!.message, /malformed entry/);
  });

  it('a crash at any write point leaves the old folder or the new one; the clean-up restores a folder moved aside', async () => {
    const parent = join(root, 'swap');
    const dir = join(parent, 'model');
    const write = (v: string) => (tmp: string) => writeFileDurableSync(join(tmp, 'v.txt'), v);
    await writeDirectoryAtomically(dir, write('old'), { checksums: true });
    // Points: v.txt, checksums.json, rename old aside, rename new in.
    for (let n = 1; n <= 4; n++) {
      let seen = 0;
      setWritePointHook(() => {
        if (++seen === n) throw new Crash('crash');
      });
      try {
        await assert.rejects(writeDirectoryAtomically(dir, write('new'), { checksums: true }), Crash);
      } finally {
        setWritePointHook(undefined);
      }
      removeStaleTemporaries(parent);
      assert.deepEqual(readdirSync(parent), ['model'], `after a crash at point ${n}`);
      assert.equal(readFileSync(join(dir, 'v.txt'), 'utf8'), 'old');
      assert.equal(checkChecksums(dir), null);
    }
    await writeDirectoryAtomically(dir, write('new'), { checksums: true });
    assert.equal(readFileSync(join(dir, 'v.txt'), 'utf8'), 'new');
    assert.deepEqual(readdirSync(parent), ['model']);
  });

  it('writeChecksums over chosen top-level entries of a visible folder', () => {
    const dir = join(root, 'run');
    mkdirSync(join(dir, 'model'), { recursive: true });
    writeFileSync(join(dir, 'summary.json'), '{}');
    writeFileSync(join(dir, 'model', 'model.json'), '{}');
    writeFileSync(join(dir, 'other.txt'), 'not listed');
    writeChecksums(dir, { only: ['summary.json', 'model'], atomic: true });
    const files = Object.keys((JSON.parse(readFileSync(join(dir, 'checksums.json'), 'utf8')) as { files: object }).files);
    assert.deepEqual(files, ['model/model.json', 'summary.json']);
    assert.equal(checkChecksums(dir), null);
  });
});

describe('lockDirectory', () => {
  it('refuses a second writer while the lock is held, and takes over a lock whose process is gone', () => {
    const dir = join(root, 'locked');
    mkdirSync(dir);
    const release = lockDirectory(dir);
    // Another live process holds it: this process's parent stands in for it.
    const lockFile = join(dir, '.lock');
    const mine = readFileSync(lockFile, 'utf8');
    writeFileSync(lockFile, JSON.stringify({ ...JSON.parse(mine), pid: process.ppid }));
    assert.throws(() => lockDirectory(dir), (e: unknown) => NasError.is(e, 'E_USAGE') && e.details['pid'] === process.ppid && /Another mitosis process/.test(e.message));
    // A dead process (a child that has exited) leaves a stale lock: taken over.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lockFile, JSON.stringify({ ...JSON.parse(mine), pid: Number(dead.stdout) }));
    const again = lockDirectory(dir);
    assert.equal((JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number }).pid, process.pid);
    release(); // the first release no longer owns the lock: it stays
    assert.ok(existsSync(lockFile));
    again();
    assert.ok(!existsSync(lockFile));
    // A lock torn by a crash (unparsable) is stale too; a lock from another host is not ours to judge.
    writeFileSync(lockFile, '{"pid":');
    lockDirectory(dir)();
    writeFileSync(lockFile, JSON.stringify({ pid: 1, host: 'elsewhere.example' }));
    assert.throws(() => lockDirectory(dir), (e: unknown) => NasError.is(e, 'E_USAGE') && /host elsewhere\.example/.test(e.message));
    rmSync(lockFile);
    assert.deepEqual(readdirSync(dir), []);
  });
});
