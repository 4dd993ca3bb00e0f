import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NasError } from '../errors.js';
import { loadJsonConfig, readJsonFile, validateAgainst } from './json-config.js';

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
