import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { makeFixtureRoot, writeFixturePlugin } from '@mitosis/core/testing';
import { knownDatasetIds } from '@mitosis/data';
import { listSearchSpaces } from '@mitosis/growth';
import { shippedProfileIds } from '@mitosis/hardware';
import type { Command } from 'commander';
import { buildProgram } from './program.js';
import { captureCli, type CliResult } from './testing/capture-cli.js';

const { root, cleanup } = makeFixtureRoot(dirname(fileURLToPath(import.meta.url)));
after(cleanup);

function cli(...argv: string[]): Promise<CliResult> {
  return captureCli(argv);
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

  it('an unknown command with --help is an error, not the top-level help (also via `help <name>` and for subcommands)', async () => {
    for (const argv of [['frobnicate', '--help'], ['--plugin', '/x', 'frobnicate', '-h'], ['help', 'frobnicate'], ['bench', 'frobnicate', '--help'], ['bench', '--backend', 'cpu', 'frobnicate']]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.stdout, '', `${argv.join(' ')} printed help`);
      assert.match(r.stderr, /^mitosis: E_USAGE: unknown command '(bench )?frobnicate' \((sub)?commands/, argv.join(' '));
    }
    const json = await cli('--json', 'frobnicate', '--help');
    assert.equal(json.code, 2);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'E_USAGE');
    // Known names still get their help, with exit 0.
    for (const argv of [['help', 'grow'], ['bench', 'eigen', '--help'], ['plugins', '--plugin', '/x', '--help']]) {
      const r = await cli(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.stdout, /^Usage: mitosis /);
    }
  });

  it("every subcommand's help lists the global options, and only the program's", async () => {
    const leaves: string[][] = [];
    const walk = (c: Command, path: string[]): void => {
      for (const sub of c.commands) {
        if (sub.name() === 'help') continue;
        leaves.push([...path, sub.name()]);
        walk(sub, [...path, sub.name()]);
      }
    };
    walk(buildProgram({ stdout: () => undefined, stderr: () => undefined, interactive: false }), []);
    assert.ok(leaves.length >= 14, leaves.map((l) => l.join(' ')).join(', '));
    for (const path of leaves) {
      const r = await cli(...path, '--help');
      assert.equal(r.code, 0, path.join(' '));
      const global = r.stdout.split('Global Options:')[1];
      assert.ok(global !== undefined, `${path.join(' ')} --help has no Global Options`);
      for (const flag of ['--json', '--verbose', '--plugin <dir>', '--no-discover']) assert.ok(global.includes(flag), `${path.join(' ')}: ${flag}`);
      assert.doesNotMatch(global, /--steps|--backend/, `${path.join(' ')} lists a parent command's option as global`);
    }
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
    const r = await cli('--no-discover', '--plugin', a, '--plugin', b, 'plugins');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /E_PLUGIN_CONFLICT: The cost model id "same-id" is contributed twice/);
  });
});

describe('unknown ids', () => {
  it('an unknown grower names the known ones, exits 2 (like an unknown space) and trains nothing', async () => {
    const a = writeFixturePlugin(root, { name: 'cli-unknown', manifest: manifest('cli-unknown', ['m']) });
    const r = await cli('--no-discover', `--plugin=${a}`, 'grow', '--space', 'toy-1d', '--grower', 's2dd', '--out', join(root, 'never'), '--backend', 'cpu');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /E_PLUGIN_UNKNOWN: Unknown grower "s2dd" \(known: none installed\)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});

describe('--plugin <dir>', () => {
  const plugin = (name: string): string => writeFixturePlugin(root, { name, manifest: manifest(name, [`${name}-m`]) });
  const loaded = (stdout: string): string[] => (JSON.parse(stdout) as { plugins: { id: string }[] }).plugins.map((p) => p.id);

  it('takes one directory before the command name', async () => {
    const a = plugin('cli-before');
    const r = await cli('--json', '--no-discover', '--plugin', a, 'plugins');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(loaded(r.stdout), ['cli-before']);
  });

  it('takes one directory after the command name, repeated and in the --plugin=<dir> form', async () => {
    const a = plugin('cli-after-a');
    const b = plugin('cli-after-b');
    const c = plugin('cli-after-c');
    const r = await cli('plugins', '--json', '--no-discover', '--plugin', a, `--plugin=${b}`, '--plugin', c);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(loaded(r.stdout), ['cli-after-a', 'cli-after-b', 'cli-after-c']);
  });

  it('a missing directory is a usage error with the real message, as JSON too', async () => {
    const r = await cli('--json', 'plugins', '--plugin');
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'E_USAGE');
    assert.match(doc.error.message, /option '--plugin <dir>' argument missing/);
    const human = await cli('plugins', '--plugin');
    assert.equal(human.code, 2);
    assert.match(human.stderr, /^mitosis: E_USAGE: option '--plugin <dir>' argument missing/);
    assert.doesNotMatch(human.stderr, /Usage: mitosis/);
  });

  it('no command after --plugin is an error named as such, never "(outputHelp)"', async () => {
    const r = await cli('--json', '--no-discover', '--plugin', plugin('cli-nocmd'));
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'E_USAGE');
    assert.equal(doc.error.message, 'no command given');
  });

  it('a directory that does not exist is a usage error (exit 2), not a broken plugin', async () => {
    const r = await cli('--json', '--no-discover', '--plugin', join(root, 'no-such-dir'), 'plugins');
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'E_USAGE');
    assert.match(doc.error.message, /No plugin directory .*no-such-dir/);
  });

  it('an unknown option is reported with its name', async () => {
    const r = await cli('--json', 'plugins', '--frobnicate');
    assert.equal(r.code, 2);
    assert.match((JSON.parse(r.stdout) as { error: { message: string } }).error.message, /unknown option '--frobnicate'/);
  });
});

describe('mitosis list', () => {
  it('lists every shipped search space with its description', async () => {
    const r = await cli('--json', 'list', 'spaces');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { spaces: { id: string; description: string }[] };
    const ids = doc.spaces.map((s) => s.id);
    assert.deepEqual(ids, listSearchSpaces());
    assert.ok(ids.includes('toy-1d'));
    assert.ok(doc.spaces.every((s) => s.description.length > 0));
    const human = await cli('list', 'spaces');
    assert.equal(human.stdout.trimEnd().split('\n').length, ids.length);
    assert.match(human.stdout, /^toy-1d\s+\S/m);
  });

  it('lists the shipped hardware profiles with device class, provenance and what is estimated', async () => {
    const r = await cli('--json', 'list', 'profiles');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { profiles: { id: string; deviceClass: string; estimated: boolean; source: string }[] };
    assert.deepEqual(doc.profiles.map((p) => p.id), shippedProfileIds());
    const note10 = doc.profiles.find((p) => p.id === 'note10-cpu');
    assert.equal(note10?.deviceClass, 'cpu');
    assert.equal(typeof note10?.estimated, 'boolean');
    assert.ok(doc.profiles.every((p) => p.source.length > 0));
    const human = await cli('list', 'profiles');
    assert.match(human.stdout, /^note10-cpu\s+cpu, /m);
  });

  it('lists the data sets', async () => {
    const r = await cli('--json', 'list', 'datasets');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { datasets: { id: string }[] };
    assert.deepEqual(doc.datasets.map((d) => d.id), knownDatasetIds());
    const human = await cli('list', 'datasets');
    assert.match(human.stdout, /^toy-1d\s+/m);
  });

  it('lists methods by kind from the loaded plugins', async () => {
    const r = await cli('--json', '--no-discover', 'list', 'methods');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { methods: [] });
    const all = await cli('--json', 'list', 'methods');
    assert.equal(all.code, 0, all.stderr);
    const methods = (JSON.parse(all.stdout) as { methods: { kind: string; id: string; description: string }[] }).methods;
    assert.ok(methods.some((m) => m.kind === 'grower' && m.id === 's2d'));
    assert.ok(methods.some((m) => m.kind === 'pruner'));
    const human = await cli('list', 'methods');
    assert.match(human.stdout, /^grower s2d\s+\S/m);
  });

  it('an unknown listing is a usage error naming the choices', async () => {
    const r = await cli('list', 'widgets');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /E_USAGE: .*widgets.*spaces, profiles, datasets, methods/);
  });
});

describe('mitosis validate', () => {
  it('reports the three schema errors of a manifest, each once with its pointer and what is wrong, exit 3', async () => {
    // Three mistakes (a wrong apiVersion, an id with a space, an unknown key) and a valid `contributes`.
    const dir = writeFixturePlugin(root, { name: 'cli-v', manifest: { apiVersion: 9, id: 'x y', contributes: { costModels: ['m'] }, extra: 1 } });
    const r = await cli('--json', 'validate', join(dir, 'package.json'));
    assert.equal(r.code, 3);
    const doc = JSON.parse(r.stdout) as { error: { code: string; details: { problems: { pointer: string; message: string }[] } } };
    assert.equal(doc.error.code, 'E_PLUGIN_MANIFEST');
    const problems = [...doc.error.details.problems].sort((a, b) => a.pointer.localeCompare(b.pointer));
    assert.equal(problems.length, 3, JSON.stringify(problems));
    assert.deepEqual(problems.map((p) => p.pointer), ['/mitosis/apiVersion', '/mitosis/extra', '/mitosis/id']);
    assert.match(problems[0]!.message, /constant/);
    assert.match(problems[1]!.message, /not allowed/);
    assert.match(problems[2]!.message, /pattern/);
    // The human form prints one line per problem.
    const human = await cli('validate', join(dir, 'package.json'));
    assert.equal(human.stderr.split('\n').filter((l) => l.startsWith('  /mitosis/')).length, 3);
  });

  it('an empty `contributes` is a fourth problem, reported with its own pointer', async () => {
    const dir = writeFixturePlugin(root, { name: 'cli-v4', manifest: { apiVersion: 9, id: 'x y', contributes: {}, extra: 1 } });
    const r = await cli('--json', 'validate', join(dir, 'package.json'));
    const doc = JSON.parse(r.stdout) as { error: { details: { problems: { pointer: string }[] } } };
    assert.deepEqual(doc.error.details.problems.map((p) => p.pointer).sort(), ['/mitosis/apiVersion', '/mitosis/contributes', '/mitosis/extra', '/mitosis/id']);
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
