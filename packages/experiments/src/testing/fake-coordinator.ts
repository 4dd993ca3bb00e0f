/**
 * A `mitosis compare --executor redis://…` for this package's tests (not exported): runs the fake study of
 * fixtures.ts on the Redis executor. `node fake-coordinator.js <redis-url> <study-dir> <space-file> [overrides-json]`.
 * Prints one JSON line per executor event and `{"type":"end",…}` with the counts.
 */
import { parseRedisUrl } from '../distributed/redis-url.js';
import { redisExecutor } from '../distributed/coordinator.js';
import { mitosisRunCommand } from '../executor.js';
import { runStudy } from '../study-runner.js';
import { fakeStudy, fakeTrialScript } from './fixtures.js';

const [url, out, space, overrides] = process.argv.slice(2);
if (url === undefined || out === undefined || space === undefined) {
  process.stderr.write('usage: fake-coordinator <redis-url> <study-dir> <space-file> [overrides-json]\n');
  process.exit(2);
}
const print = (v: unknown): void => void process.stdout.write(`${JSON.stringify(v)}\n`);
const run = await runStudy(fakeStudy(space, overrides === undefined ? {} : (JSON.parse(overrides) as Record<string, unknown>)), {
  out,
  command: mitosisRunCommand(fakeTrialScript),
  executor: redisExecutor({ redis: parseRedisUrl(url), pollMs: 200, backoffMs: 100, onNote: (m) => print({ type: 'note', message: m }) }),
  onEvent: (e) =>
    print(e.type === 'start' ? { type: 'start', trial: e.trial.id, t: Date.now() } : { type: 'finish', trial: e.outcome.trial.id, status: e.outcome.status, t: Date.now() }),
});
print({ type: 'end', counts: run.results.counts, interrupted: run.interrupted, t: Date.now() });
