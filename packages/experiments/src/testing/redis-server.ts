/**
 * A real `redis-server` for tests (not exported from the package's main entry): started on 127.0.0.1 on a free
 * port with no persistence, stopped by the test. Tests that need Redis skip, saying why, when the binary is
 * missing (`apt-get install redis-server`; `.ci/run` installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A running test server. */
export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (with `:<password>@` when one was set). */
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops it (SIGKILL when `hard`: the test of a server that dies) and waits for the exit. */
  stop(hard?: boolean): Promise<void>;
}

/** The redis-server binary (REDIS_SERVER or the one on PATH), or undefined when there is none. */
export function redisServerBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bin = env['REDIS_SERVER'] ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 && /Redis server/i.test(probe.stdout) ? bin : undefined;
}

/** The reason Redis tests are skipped here, or false when they can run. */
export function redisSkipReason(): string | false {
  return redisServerBinary() === undefined
    ? 'redis-server is not installed (apt-get install redis-server, or set REDIS_SERVER); skipping the tests that need a real Redis'
    : false;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts `redis-server --port N --save '' --appendonly no` on 127.0.0.1 (and `--requirepass` when given). */
export async function startRedis(options: { password?: string; port?: number } = {}): Promise<TestRedis> {
  const bin = redisServerBinary();
  if (bin === undefined) throw new Error('redis-server is not installed');
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];
    if (options.password !== undefined) args.push('--requirepass', options.password);
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const ready = await new Promise<boolean>((resolveReady) => {
      const timer = setTimeout(() => resolveReady(false), 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolveReady(true);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('exit', () => {
        clearTimeout(timer);
        resolveReady(false);
      });
    });
    if (!ready) {
      child.kill('SIGKILL');
      if (options.port !== undefined) throw new Error(`redis-server did not start on port ${port}:\n${output}`);
      continue;
    }
    child.stdout?.resume();
    child.stderr?.resume();
    const exited = new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) r();
      else child.once('exit', () => r());
    });
    return {
      port,
      url: `redis://${options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`}127.0.0.1:${port}`,
      process: child,
      stop: async (hard = false) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(hard ? 'SIGKILL' : 'SIGTERM');
        await exited;
      },
    };
  }
  throw new Error('redis-server did not start on a free port after 5 tries');
}
