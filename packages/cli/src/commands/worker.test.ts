import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import type { PlannedTrial } from '@mitosis/experiments';
import { redisSkipReason, startRedis, type TestRedis } from '@mitosis/experiments/testing/redis-server';
import type { Io } from '../io.js';
import { runCli } from '../program.js';
import { workerTrialCheck } from './worker.js';

// `mitosis compare --executor redis://…` in this process, `mitosis worker` in another, both on the fake
// `mitosis run` of @mitosis/experiments, against a real password-protected redis-server.
const fakeRun = fileURLToPath(import.meta.resolve('@mitosis/experiments/testing/fake-trial'));
const main = fileURLToPath(new URL('../main.js', import.meta.url));
const ENV_KEYS = ['MITOSIS_RUN_SCRIPT', 'FAKE_TRIAL_ROUND_MS', 'MITOSIS_REDIS_POLL_MS'] as const;
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
const PASSWORD = 'pa55-w0rd';

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), interactive: false };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const flags = ['--space', 'convnet-fashion-quick', '--methods', 'energy-aware,width-multiplier', '--budget', '300kmacs,400kmacs', '--seeds', '0', '--rounds', '2', '--reference', 'width-multiplier'];
const startLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('start  ')).sort();

describe('mitosis worker and mitosis compare --executor redis://', { skip: redisSkipReason() }, () => {
  let root: string;
  let redis: TestRedis;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'mitosis-cli-worker-'));
    redis = await startRedis({ password: PASSWORD });
  });
  afterEach(() => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  after(async () => {
    await redis?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('runs a study on a worker process with the same progress lines and results as the local executor, never printing the password', async () => {
    process.env['MITOSIS_RUN_SCRIPT'] = fakeRun;
    process.env['FAKE_TRIAL_ROUND_MS'] = '10';
    process.env['MITOSIS_REDIS_POLL_MS'] = '200';
    const local = await cli('compare', ...flags, '--jobs', '2', '--out', join(root, 'local'));
    assert.equal(local.code, 0, local.stderr);

    const worker = spawn(process.execPath, [main, 'worker', '--redis', redis.url, '--jobs', '2', '--work-dir', join(root, 'work')], {
      env: { ...process.env, MITOSIS_WORKER_POLL_MS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let wout = '';
    let werr = '';
    worker.stdout.on('data', (c: Buffer) => void (wout += c.toString()));
    const ready = new Promise<void>((r) =>
      worker.stderr.on('data', (c: Buffer) => {
        werr += c.toString();
        if (/stop with Ctrl-C/.test(werr)) r();
      }),
    );
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    try {
      await Promise.race([ready, exited.then(() => assert.fail(`the worker exited: ${werr}`))]);
      const out = join(root, 'redis');
      const r = await cli('compare', ...flags, '--executor', redis.url, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^study convnet-fashion-quick-study: 4 trials, through the Redis queue study-convnet-fashion-quick-study-[0-9a-f]{8} on redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ /);
      assert.deepEqual(startLines(r.stderr), startLines(local.stderr));
      assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('done   ')).length, 4);
      assert.match(r.stdout, /4 trials, 4 done, 0 failed, 0 not finished/);
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), JSON.parse(readFileSync(join(root, 'local', 'results.json'), 'utf8')));
      const json = await cli('--json', 'compare', ...flags, '--executor', redis.url, '--out', out);
      assert.equal(json.code, 0, json.stderr);
      assert.equal((JSON.parse(json.stdout) as { executor: string }).executor, `redis://:***@127.0.0.1:${redis.port}`);
      worker.kill('SIGTERM');
      assert.equal(await exited, 0, werr);
      assert.match(werr, /serving study convnet-fashion-quick-study/);
      assert.match(werr, /done   convnet-fashion-quick-study: energy-aware · 300k macs · seed 0 in \d+s/);
      assert.match(wout, /stopped: 4 done, 0 failed, 0 handed back, 0 refused/);
      for (const text of [r.stdout, r.stderr, json.stdout, werr, wout]) assert.equal(text.includes(PASSWORD), false);
    } finally {
      worker.kill('SIGKILL');
    }
  });

  it('says clearly when Redis is unreachable or the flags do not fit, before touching the study directory', async () => {
    const port = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => r(typeof a === 'object' && a !== null ? a.port : 1));
      });
    });
    const out = join(root, 'nowhere');
    const down = await cli('compare', ...flags, '--executor', `redis://:${PASSWORD}@127.0.0.1:${port}`, '--out', out);
    assert.equal(down.code, 2);
    assert.match(down.stderr, /E_BACKEND_UNAVAILABLE: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: connection refused/);
    assert.equal(down.stderr.includes(PASSWORD), false);
    assert.equal(existsSync(out), false);
    const wrong = await cli('worker', '--redis', `redis://:nope@127.0.0.1:${redis.port}`);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /authentication failed/);
    const jobs = await cli('compare', ...flags, '--executor', redis.url, '--jobs', '2', '--out', out);
    assert.equal(jobs.code, 2);
    assert.match(jobs.stderr, /--jobs applies to the local executor/);
    const scheme = await cli('worker', '--redis', `http://u:${PASSWORD}@x`);
    assert.equal(scheme.code, 2);
    assert.match(scheme.stderr, /E_USAGE: --redis http:\/\/u:\*\*\*@x: the scheme must be redis: or rediss:/);
  });

  it('refuses a trial whose method is not installed here or whose options do not validate', async () => {
    const trial = (method: string, options: Record<string, unknown> = {}): PlannedTrial => ({
      id: '0123456789ab',
      dir: 'trials/0123456789ab',
      label: method,
      method,
      options,
      budget: { value: 300000, unit: 'macs' },
      device: null,
      seed: 0,
      rounds: 1,
      data: null,
      args: [],
    });
    const check = workerTrialCheck({});
    await check(trial('energy-aware'));
    await assert.rejects(check(trial('no-such-method')), (e: unknown) => NasError.is(e, 'E_PLUGIN_UNKNOWN') && /not installed here/.test(e.message));
    await assert.rejects(check(trial('energy-aware', { noSuchOption: 1 })), (e: unknown) => NasError.is(e) && /noSuchOption|additional/i.test(JSON.stringify(e.toJSON())));
    await assert.rejects(check({ ...trial('energy-aware'), device: 'no-such-device' }), (e: unknown) => NasError.is(e));
  });
});
