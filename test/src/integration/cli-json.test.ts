import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisSkipReason, startRedis, type TestRedis } from '@mitosis/experiments/testing/redis-server';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { EXIT_CODES } from '@mitosis/core';
import { buildProgram, runCli, type Io } from '@mitosis/cli';
import { loadSearchSpace } from '@mitosis/growth';
import { repoRoot, tempDir } from './growth-helpers.js';

/**
 * Every command's `--json` output, on success and on error, is exactly one JSON document on stdout (progress and
 * messages go to stderr), and an error document's exit code is its code's (docs/errors.md). Commands run in
 * process on tiny inputs: toy-1d with 20-epoch phases; studies (compare, bench study) run the fake trial of
 * @mitosis/experiments instead of training; `generate` runs one real toy trial.
 */

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: readonly string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), interactive: false };
  const code = await runCli(['--json', ...argv], io);
  return { code, stdout, stderr };
}

/** The one JSON document of `stdout` (JSON.parse refuses two documents or trailing text). */
function oneDocument(r: Result, what: string): Record<string, unknown> {
  assert.ok(r.stdout.endsWith('\n'), `${what}: stdout does not end with a newline: ${JSON.stringify(r.stdout.slice(-80))}`);
  let doc: unknown;
  assert.doesNotThrow(() => (doc = JSON.parse(r.stdout)), `${what}: stdout is not one JSON document:\n${r.stdout.slice(0, 400)}`);
  assert.ok(doc !== null && typeof doc === 'object' && !Array.isArray(doc), `${what}: not a JSON object`);
  return doc as Record<string, unknown>;
}

/** The leaf commands of the program, as paths (`['bench', 'eigen']`); `help` excluded. */
function commandPaths(): string[] {
  const paths: string[] = [];
  const walk = (c: Command, prefix: string[]): void => {
    for (const sub of c.commands) {
      if (sub.name() === 'help') continue;
      const path = [...prefix, sub.name()];
      paths.push(path.join(' '));
      walk(sub, path);
    }
  };
  walk(buildProgram({ stdout: () => undefined, stderr: () => undefined, interactive: false }), []);
  return paths;
}

interface Case {
  /** Arguments of a run that succeeds (exit 0). */
  readonly ok: readonly string[];
  /** Arguments of a run that fails with a NasError. */
  readonly error: readonly string[];
  /** More checks on the success document. */
  readonly check?: (doc: Record<string, unknown>) => void;
  /** The success case needs a live Redis (skipped, with the reason, where redis-server is missing). */
  readonly redis?: boolean;
}

describe('--json: one JSON document per command, on success and on error', () => {
  const { dir, cleanup } = tempDir('cli-json');
  const fakeRun = fileURLToPath(import.meta.resolve('@mitosis/experiments/testing/fake-trial'));
  const saved = { ...process.env };
  const space = join(dir, 'toy-fast.json');
  const spec = join(dir, 'spec.json');
  const study = join(dir, 'study.json');
  const profileDir = join(dir, 'profiles');
  const out = (name: string): string => join(dir, name);
  let redis: TestRedis | undefined;
  const redisSkip = redisSkipReason();
  before(async () => {
    if (redisSkip === false) redis = await startRedis();
    const toy = loadSearchSpace('toy-1d').space;
    const fast = { ...toy, id: 'toy-fast', training: { ...toy.training, epochs: 20 }, fineTune: { ...toy.fineTune, epochs: 20 } };
    writeFileSync(space, JSON.stringify(fast));
    writeFileSync(spec, JSON.stringify(toy.seed));
    writeFileSync(study, JSON.stringify({ format: 'mitosis-study', version: 1, id: 'json', space, methods: [{ id: 's2d' }], budgets: { unit: 'macs', values: [8] }, seeds: [0], rounds: 1 }));
    mkdirSync(profileDir);
    mkdirSync(out('broken-plugin'));
    writeFileSync(join(out('broken-plugin'), 'package.json'), JSON.stringify({ name: 'broken-plugin', version: '1.0.0', mitosis: { apiVersion: 9 } }));
    // Studies run the fake trial (no training); generate unsets it below to make a real model.
    process.env['MITOSIS_RUN_SCRIPT'] = fakeRun;
    process.env['FAKE_TRIAL_ROUND_MS'] = '5';
    process.env['TMPDIR'] = dir;
  });
  after(async () => {
    await redis?.stop();
    for (const k of ['MITOSIS_RUN_SCRIPT', 'FAKE_TRIAL_ROUND_MS', 'TMPDIR']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    cleanup();
  });

  const s2dOptions = '{"selection":"top-k","k":1,"requireNegative":false}';
  // In order: later cases use what earlier ones wrote (the run's model, the profile, the study directory).
  const cases: Record<string, Case> = {
    plugins: { ok: ['plugins'], error: ['--plugin', out('broken-plugin'), 'plugins'] },
    validate: { ok: ['validate', join(repoRoot, 'search-spaces', 'toy-1d.json')], error: ['validate', out('missing.json')] },
    list: { ok: ['list', 'spaces'], error: ['list', 'widgets'] },
    train: { ok: ['train', '--model', spec, '--data', 'toy-1d', '--epochs', '1', '--backend', 'cpu', '--out', out('train')], error: ['train', '--model', spec, '--data', 'no-such-data', '--backend', 'cpu'] },
    cost: { ok: ['cost', '--model', spec, '--profile', 'note10-cpu'], error: ['cost', '--model', spec, '--profile', 'no-such-device'] },
    'split-scores': {
      ok: ['split-scores', '--model', spec, '--data', 'toy-1d', '--loss', 'mse', '--backend', 'cpu'],
      error: ['split-scores', '--model', spec, '--data', 'toy-1d', '--solver', 'no-such-solver', '--backend', 'cpu'],
    },
    run: {
      ok: ['run', '--space', space, '--method', 's2d', '--method-options', s2dOptions, '--rounds', '1', '--budget', '8macs', '--backend', 'cpu', '--out', out('run')],
      error: ['run', '--space', 'no-such-space', '--out', out('never')],
      check: (doc) => assert.equal(doc['format'], 'mitosis-run-summary'),
    },
    grow: {
      ok: ['grow', '--space', space, '--grower-options', s2dOptions, '--rounds', '1', '--backend', 'cpu', '--out', out('grow')],
      error: ['grow', '--space', space, '--grower', 'no-such-grower', '--out', out('never')],
    },
    export: { ok: ['export', '--model', out('run'), '--out', out('model.onnx'), '--backend', 'cpu'], error: ['export', '--model', out('no-such-model'), '--out', out('x.onnx')] },
    predict: { ok: ['predict', '--model', out('model.onnx'), '--data', 'toy-1d'], error: ['predict', '--model', out('no-such-model'), '--data', 'toy-1d'] },
    profile: {
      ok: ['profile', '--device-id', 'json-test', '--out', join(profileDir, 'json-test.json'), '--variants', '2', '--warmup', '0', '--repeats', '1', '--backend', 'wasm'],
      error: ['profile', '--device-id', 'json-test', '--out', out('p.json'), '--repeats', '0'],
    },
    bench: { ok: ['bench', '--backend', 'wasm', '--steps', '1', '--warmup', '0'], error: ['bench', '--steps', '0'] },
    'bench eigen': {
      ok: ['bench', 'eigen', '--solvers', 'dense,lanczos', '--samples', '12', '--channels', '1', '--data', 'synthetic', '--backend', 'cpu'],
      error: ['bench', 'eigen', '--solvers', 'no-such-solver', '--data', 'synthetic'],
      // Two independent real solvers (explicit matrices + QR vs matrix-free Lanczos) agree on the trained layer.
      check: (doc) => {
        // `--backend` after `eigen` is eigen's, although `bench` has one too.
        assert.equal(doc['backend'], 'cpu');
        const rows = doc['results'] as { solver: string; lambdaRelErr: number; cos: number; lambdaMaxRelErr: number; cosMax: number }[];
        const lanczos = rows.find((r) => r.solver === 'lanczos');
        assert.ok(lanczos !== undefined);
        assert.ok(lanczos.lambdaRelErr < 1e-4 && lanczos.lambdaMaxRelErr < 1e-4, JSON.stringify(lanczos));
        assert.ok(lanczos.cos > 0.999 && lanczos.cosMax > 0.999, JSON.stringify(lanczos));
      },
    },
    'bench train': {
      ok: ['bench', 'train', '--space', space, '--network', 'seed', '--batch', '8', '--steps', '2', '--warmup', '1'],
      error: ['bench', 'train', '--space', 'no-such-space'],
    },
    'bench profile': {
      ok: ['bench', 'profile', '--profile', join(profileDir, 'json-test.json'), '--count', '2', '--repeats', '1'],
      error: ['bench', 'profile', '--profile', 'no-such-profile'],
    },
    compare: {
      ok: ['compare', '--study', study, '--out', out('study'), '--jobs', '1'],
      error: ['compare', '--space', space, '--methods', 'no-such-method', '--budget', '8macs', '--out', out('study-bad')],
    },
    report: { ok: ['report', out('study')], error: ['report', out('no-such-study')] },
    'bench study': { ok: ['bench', 'study', '--study', study, '--jobs', '1', '--limit-trials', '1'], error: ['bench', 'study', '--study', out('missing.json')] },
    // The second `new` finds the first one's folder not empty.
    new: { ok: ['new', 'plugin', '--kind', 'grower', out('new-plugin')], error: ['new', 'plugin', '--kind', 'grower', out('new-plugin')] },
    worker: {
      // Nothing is queued: the worker connects, waits a second with no trial and stops (--idle-exit).
      get ok() {
        return ['worker', '--redis', redis?.url ?? 'redis://127.0.0.1:1', '--jobs', '1', '--idle-exit', '1'];
      },
      error: ['worker', '--redis', 'http://127.0.0.1:1'],
      redis: true,
      check: (doc) => assert.equal(doc['stoppedBy'], 'idle'),
    },
    generate: {
      ok: ['generate', '--space', space, '--devices', 'note10-cpu', '--budget', '8macs', '--method-options', s2dOptions, '--rounds', '1', '--out', out('generate'), '--jobs', '1'],
      error: ['generate', '--space', space, '--devices', 'no-such-device', '--budget', '1ms', '--out', out('generate-bad')],
    },
  };

  it('covers every command of the program', () => {
    assert.deepEqual(commandPaths().sort(), Object.keys(cases).sort(), 'add a case for each new command (and remove those of removed ones)');
  });

  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: success and error are each one JSON document`, async (t) => {
      if (c.redis === true && redisSkip !== false) {
        t.skip(redisSkip);
        return;
      }
      if (name === 'generate') delete process.env['MITOSIS_RUN_SCRIPT']; // a real trial: generate exports its model
      const ok = await cli(c.ok);
      assert.equal(ok.code, 0, `${name} failed:\n${ok.stdout}\n${ok.stderr}`);
      const doc = oneDocument(ok, name);
      assert.equal(doc['error'], undefined, `${name}: success document has an error`);
      c.check?.(doc);
      const bad = await cli(c.error);
      assert.notEqual(bad.code, 0, `${name}: the error case succeeded`);
      const err = oneDocument(bad, `${name} (error)`)['error'] as { code: string; message: string; details: unknown };
      assert.ok(err !== undefined, `${name}: error document without "error": ${bad.stdout}`);
      assert.match(err.code, /^E_[A-Z_]+$/);
      assert.ok(err.message.length > 0 && typeof err.details === 'object');
      assert.equal(bad.code, EXIT_CODES[err.code as keyof typeof EXIT_CODES], `${name}: exit ${bad.code} for ${err.code}`);
    });
  }

  it('program-level errors (no command, an unknown command, with --help too) are one JSON document', async () => {
    for (const argv of [[], ['frobnicate'], ['frobnicate', '--help'], ['--plugin']]) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal((oneDocument(r, argv.join(' '))['error'] as { code: string }).code, 'E_USAGE');
    }
    assert.ok(readFileSync(space, 'utf8').length > 0);
  });
});
