import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { readContainedFile, readContainedFileSync, resolveContainedFile, type FileReference } from './contained-file.js';

const root = mkdtempSync(join(tmpdir(), 'mitosis-contained-'));
after(() => rmSync(root, { recursive: true, force: true }));

const folder = join(root, 'model');
mkdirSync(join(folder, 'sub'), { recursive: true });
writeFileSync(join(folder, 'weights.bin'), new Uint8Array(12));
writeFileSync(join(folder, 'sub', 'part.bin'), new Uint8Array(3));
writeFileSync(join(root, 'secret.txt'), 'outside the folder');
symlinkSync(join(root, 'secret.txt'), join(folder, 'escape.bin'));
symlinkSync('weights.bin', join(folder, 'alias.bin'));
symlinkSync(folder, join(root, 'model-link'));

const where: FileReference = { code: 'E_MODEL_FORMAT', file: join(folder, 'model.json'), pointer: '/weightsManifest/0/paths/0', folderLabel: 'model folder' };

function rejects(reference: unknown, message: RegExp, extra: Partial<FileReference> = {}): NasError {
  let caught: unknown;
  try {
    resolveContainedFile(folder, reference, { ...where, ...extra });
  } catch (error) {
    caught = error;
  }
  assert.ok(NasError.is(caught, 'E_MODEL_FORMAT'), `expected E_MODEL_FORMAT for ${JSON.stringify(reference)}, got ${String(caught)}`);
  assert.equal(caught.details['pointer'], '/weightsManifest/0/paths/0');
  assert.equal(caught.details['file'], where.file);
  assert.match(caught.message, /weightsManifest\/0\/paths\/0/);
  assert.match(caught.message, message);
  return caught;
}

describe('resolveContainedFile', () => {
  it('resolves plain, nested and in-folder-symlinked files with their sizes', () => {
    assert.deepEqual(
      ['weights.bin', 'sub/part.bin', './sub/part.bin', 'alias.bin'].map((r) => resolveContainedFile(folder, r, where).size),
      [12, 3, 3, 12],
    );
    // the folder itself may be reached through a symbolic link
    assert.equal(resolveContainedFile(join(root, 'model-link'), 'weights.bin', where).size, 12);
  });

  it('refuses references that are not relative file names inside the folder', () => {
    rejects('../../../../dev/zero', /contains "\.\."/);
    rejects('sub/../weights.bin', /contains "\.\."/);
    rejects('..\\secret.txt', /contains "\.\."/);
    rejects('/etc/hostname', /is an absolute path/);
    rejects('C:\\Windows\\win.ini', /is an absolute path/);
    rejects('', /non-empty relative file name/);
    rejects(42, /non-empty relative file name/);
    rejects('a\0b', /non-empty relative file name/);
  });

  it('refuses a symbolic link leading outside without reporting anything about its target', () => {
    const e = rejects('escape.bin', /resolves \(through a symbolic link\) outside the model folder/);
    assert.doesNotMatch(e.message, /secret/);
    assert.deepEqual(Object.keys(e.details).sort(), ['file', 'pointer', 'reference']);
  });

  it('refuses directories, missing files and files over the size limit, naming the file', () => {
    assert.equal(rejects('sub', /is not a regular file/).details['target'], join(folder, 'sub'));
    assert.equal(rejects('.', /is not a regular file/).details['reference'], '.');
    assert.equal(rejects('nope.bin', /does not exist \(run it\)/, { missingHint: '(run it)' }).details['target'], join(folder, 'nope.bin'));
    assert.equal(rejects('weights.bin', /12 bytes, more than the limit of 8/, { maxBytes: 8 }).details['bytes'], 12);
  });
});

describe('readContainedFile', () => {
  it('reads exactly the checked bytes, and refuses a file that changed after the check', async () => {
    const checked = resolveContainedFile(folder, 'sub/part.bin', where);
    assert.deepEqual(await readContainedFile(checked), new Uint8Array(3));
    assert.deepEqual(readContainedFileSync(checked), new Uint8Array(3));
    writeFileSync(join(folder, 'sub', 'part.bin'), new Uint8Array(1 << 16));
    await assert.rejects(readContainedFile(checked), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && /changed while it was being read/.test(e.message));
    assert.throws(() => readContainedFileSync(checked), (e: unknown) => NasError.is(e, 'E_MODEL_FORMAT') && e.details['target'] === join(folder, 'sub', 'part.bin'));
  });
});
