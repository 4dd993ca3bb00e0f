import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { cloneJson, loadJsonConfig, readBoundedText, readJsonFile, validateAgainst } from './json-config.js';

const schema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    width: { type: 'integer', minimum: 1 },
    mode: { enum: ['a', 'b'] },
    epochs: { type: 'integer', default: 3 },
  },
  required: ['name', 'width'],
  additionalProperties: false,
};

describe('validateAgainst', () => {
  it('fills defaults in place', () => {
    const doc = validateAgainst<{ epochs: number }>(schema, { name: 'n', width: 2 }, { source: 'inline' });
    assert.equal(doc.epochs, 3);
  });

  it('reports every problem at once, each with its JSON pointer', () => {
    assert.throws(
      () => validateAgainst(schema, { width: 0, mode: 'c', extra: true }, { source: 'bad.json', what: 'search space' }),
      (e: unknown) => {
        assert.ok(NasError.is(e, 'E_CONFIG_INVALID'));
        const problems = e.details['problems'] as { pointer: string; message: string }[];
        const pointers = problems.map((p) => p.pointer).sort();
        assert.deepEqual(pointers, ['/extra', '/mode', '/name', '/width']);
        assert.match(e.message, /^Invalid search space bad\.json:/);
        assert.match(e.message, /\/mode must be one of "a", "b"/);
        return true;
      },
    );
  });
});

describe('readJsonFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitosis-config-'));

  it('names the file when it is missing', () => {
    assert.throws(() => readJsonFile(join(dir, 'nope.json')), (e: unknown) => NasError.is(e, 'E_CONFIG_READ') && String(e.details['file']).endsWith('nope.json'));
  });

  it('names the file on a JSON syntax error', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"a": 1,, }');
    assert.throws(() => readJsonFile(file), (e: unknown) => NasError.is(e, 'E_CONFIG_READ') && /broken\.json is not valid JSON/.test(e.message));
  });

  it('loads and validates in one call', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ name: 'x', width: 4 }));
    assert.deepEqual(loadJsonConfig(file, schema), { name: 'x', width: 4, epochs: 3 });
  });
});

describe('JSON input limits (issue 16)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitosis-json-limits-'));

  it('refuses a document nested 5,000 levels deep with a pointer, before any clone or schema walk', () => {
    const file = join(dir, 'deep.json');
    writeFileSync(file, `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    assert.throws(
      () => readJsonFile(file),
      (e: unknown) => NasError.is(e, 'E_CONFIG_INVALID') && /nests deeper than 128/.test(e.message) && (e.details['problems'] as { pointer: string }[])[0]!.pointer.startsWith('/a/0/0/0'),
    );
    const deep = JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`) as unknown;
    assert.throws(() => cloneJson(deep, 'mem', 'E_SPEC_INVALID'), (e: unknown) => NasError.is(e, 'E_SPEC_INVALID'));
    assert.throws(() => validateAgainst(schema, { name: 'x', width: 1, deep }, { source: 'mem' }), (e: unknown) => NasError.is(e, 'E_CONFIG_INVALID') && /nests deeper/.test(e.message));
    assert.deepEqual(cloneJson({ a: [1, { b: 2 }] }, 'mem'), { a: [1, { b: 2 }] });
  });

  it('refuses devices, folders, FIFOs and oversized files without reading them', { timeout: 10_000 }, () => {
    for (const special of ['/dev/zero', '/dev/urandom', dir]) {
      assert.throws(() => readJsonFile(special), (e: unknown) => NasError.is(e, 'E_CONFIG_READ') && e.details['file'] === special && /not a regular file/.test(e.message), special);
    }
    const fifo = join(dir, 'fifo.json');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      assert.throws(() => readJsonFile(fifo), (e: unknown) => NasError.is(e, 'E_CONFIG_READ') && /not a regular file/.test(e.message));
    }
    const big = join(dir, 'big.json');
    writeFileSync(big, '[0]');
    assert.throws(() => readBoundedText(big, 2), (e: unknown) => NasError.is(e, 'E_CONFIG_READ') && e.details['maxBytes'] === 2);
    assert.equal(readBoundedText(big, 3), '[0]');
    // /proc files report size 0 but have content: read up to the limit only.
    if (process.platform === 'linux') assert.throws(() => readBoundedText('/proc/self/status', 8), (e: unknown) => NasError.is(e, 'E_CONFIG_READ') && /more than the 8 bytes/.test(e.message));
  });
});
