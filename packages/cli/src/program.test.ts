import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { makeFixtureRoot, writeFixturePlugin } from '@mitosis/core/testing';
import type { Io } from './io.js';
import { runCli } from './program.js';

const { root, cleanup } = makeFixtureRoot(dirname(fileURLToPath(import.meta.url)));
after(cleanup);

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), interactive: false };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const manifest = (id: string, models: string[]) => ({ apiVersion: 1, id, contributes: { costModels: models } });

describe('mitosis (global behaviour)', () => {
  it('prints help and exits 0', async () => {
    const r = await cli('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: mitosis/);
    assert.match(r.stdout, /plugins/);
  });

  it('prints help for a subcommand', async () => {
    const r = await cli('validate', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: mitosis validate/);
  });

  it('exits 2 on an unknown command', async () => {
    const r = await cli('frobnicate');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
  });

  it('exits 2 on a missing argument and prints one JSON error document with --json', async () => {
    const r = await cli('--json', 'validate');
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as { error: { code: string } };
    assert.equal(doc.error.code, 'E_USAGE');
  });
});

describe('mitosis plugins', () => {
  it('lists plugins and contributions with defaults as JSON', async () => {
    const a = writeFixturePlugin(root, { name: 'cli-a', manifest: manifest('cli-a', ['m-one', 'm-two']) });
    const r = await cli('--json', '--no-discover', '--plugin', a, '--', 'plugins');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { plugins: { id: string; contributes: { costModels: { id: string; defaults: unknown }[] } }[] };
    assert.equal(doc.plugins.length, 1);
    assert.deepEqual(doc.plugins[0]?.contributes.costModels.map((c) => c.id), ['m-one', 'm-two']);
    assert.deepEqual(doc.plugins[0]?.contributes.costModels[0]?.defaults, { scale: 1 });
  });

  it('names the plugin and every manifest problem, exits 3, and shows no stack trace', async () => {
    const bad = writeFixturePlugin(root, { name: 'cli-bad', manifest: { apiVersion: 1, id: 'BAD', contributes: { widgets: ['x'] } } });
    const r = await cli('--no-discover', '--plugin', bad, '--', 'plugins');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /E_PLUGIN_MANIFEST/);
    assert.match(r.stderr, /cli-bad/);
    assert.match(r.stderr, /\/mitosis\/id/);
    assert.match(r.stderr, /\/mitosis\/contributes\/widgets/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('shows the stack trace with --verbose', async () => {
    const bad = writeFixturePlugin(root, { name: 'cli-bad2', manifest: { apiVersion: 1, id: 'BAD' } });
    const r = await cli('--verbose', '--no-discover', '--plugin', bad, '--', 'plugins');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /\n\s+at /);
  });

  it('reports a duplicate contribution id with exit 3', async () => {
    const a = writeFixturePlugin(root, { name: 'cli-d1', manifest: manifest('cli-d1', ['same-id']) });
    const b = writeFixturePlugin(root, { name: 'cli-d2', manifest: manifest('cli-d2', ['same-id']) });
    const r = await cli('--no-discover', '--plugin', a, b, '--', 'plugins');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /E_PLUGIN_CONFLICT: The cost model id "same-id" is contributed twice/);
  });
});

describe('unknown ids', () => {
  it('an unknown grower names the known ones, exits 3 and trains nothing', async () => {
    const a = writeFixturePlugin(root, { name: 'cli-unknown', manifest: manifest('cli-unknown', ['m']) });
    const r = await cli('--no-discover', `--plugin=${a}`, 'grow', '--space', 'toy-1d', '--grower', 's2dd', '--out', join(root, 'never'), '--backend', 'cpu');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /E_PLUGIN_UNKNOWN: Unknown grower "s2dd" \(known: none installed\)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});

describe('mitosis validate', () => {
  it('reports three schema errors in a manifest, each with its pointer, exit 3', async () => {
    const dir = writeFixturePlugin(root, { name: 'cli-v', manifest: { apiVersion: 9, id: 'x y', contributes: {}, extra: 1 } });
    const r = await cli('--json', 'validate', join(dir, 'package.json'));
    assert.equal(r.code, 3);
    const doc = JSON.parse(r.stdout) as { error: { code: string; details: { problems: { pointer: string }[] } } };
    const pointers = doc.error.details.problems.map((p) => p.pointer).sort();
    assert.deepEqual(pointers, ['/mitosis/apiVersion', '/mitosis/contributes', '/mitosis/extra', '/mitosis/id']);
  });

  it('accepts a valid document', async () => {
    const dir = writeFixturePlugin(root, { name: 'cli-ok', manifest: manifest('cli-ok', ['m']) });
    const r = await cli('validate', join(dir, 'package.json'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid plugin-manifest/);
  });

  it('exits 2 with the file name when the file is not JSON', async () => {
    const file = join(root, 'broken.json');
    writeFileSync(file, '{ nope');
    const r = await cli('validate', file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /E_CONFIG_READ: .*broken\.json is not valid JSON/);
  });

  it('exits 2 when the kind cannot be detected', async () => {
    const file = join(root, 'unknown.json');
    writeFileSync(file, '{"hello": 1}');
    const r = await cli('validate', file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pass --kind/);
  });
});
