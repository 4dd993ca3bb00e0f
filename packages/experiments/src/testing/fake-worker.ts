/**
 * A `mitosis worker` for this package's tests (not exported): the library worker running the fake trial script.
 * `node fake-worker.js <redis-url> <work-dir> [--shared] [--jobs n] [--refuse <method>]`. Prints one JSON line
 * per worker event on stdout (`{"type":"ready"}` first) and stops cleanly on SIGTERM. Lock and stall timings come
 * from TEST_LOCK_MS (default 10000).
 */
import { mitosisRunCommand } from '../executor.js';
import { parseRedisUrl } from '../distributed/redis-url.js';
import { startTrialWorker } from '../distributed/worker.js';
import { fakeTrialScript } from './fixtures.js';

const [url, workDir, ...rest] = process.argv.slice(2);
if (url === undefined || workDir === undefined) {
  process.stderr.write('usage: fake-worker <redis-url> <work-dir> [--shared] [--jobs n] [--refuse method]\n');
  process.exit(2);
}
const flag = (name: string): string | undefined => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const refuse = flag('--refuse');
const lockMs = Number(process.env['TEST_LOCK_MS'] ?? '10000');
const print = (v: unknown): void => void process.stdout.write(`${JSON.stringify(v)}\n`);
const worker = await startTrialWorker({
  redis: parseRedisUrl(url),
  command: mitosisRunCommand(fakeTrialScript),
  jobs: Number(flag('--jobs') ?? '1'),
  sharedDir: rest.includes('--shared'),
  workDir,
  lockMs,
  stalledIntervalMs: Math.max(200, Math.floor(lockMs / 4)),
  pollMs: 100,
  progressMs: 100,
  checkTrial: (t) => {
    if (t.method === refuse) throw new Error(`method ${t.method} is not installed here`);
  },
  onEvent: (e) =>
    print(
      e.type === 'start' || e.type === 'finish'
        ? { type: e.type, trial: e.trial.id, method: e.trial.method, seed: e.trial.seed, ...(e.type === 'finish' ? { status: e.status, error: e.error } : { resumed: e.resumed }) }
        : e,
    ),
});
print({ type: 'ready', name: worker.name });
process.on('SIGTERM', () => {
  void worker.stop().then(() => {
    print({ type: 'stopped' });
    process.exit(0);
  });
});
