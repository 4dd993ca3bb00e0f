/**
 * A stand-in for `mitosis run` in the executor tests (not exported from the package): takes the same flags,
 * "trains" for FAKE_TRIAL_ROUND_MS per round, checkpoints after every round, resumes from the last
 * checkpoint with `--resume`, and writes `events.jsonl` and `summary.json` whose figures depend only on the
 * configuration, so that an interrupted and resumed study gives the same results as an uninterrupted one.
 *
 * Environment: FAKE_TRIAL_ROUND_MS (default 40); FAKE_TRIAL_CRASH: comma-separated `method` or
 * `method@seed` entries that crash (exit 1, no summary) after the seed round; FAKE_TRIAL_SIGINT: entries
 * that are stopped by SIGINT after the seed round (as Ctrl-C stops every process of a terminal);
 * FAKE_TRIAL_BAD: entries that exit 2 at once, every time (like options `mitosis run` rejects).
 * Every start appends `start <round>` to `<out>/fake-starts.txt`, and `<basename of out> start <round>` to the
 * file FAKE_TRIAL_START_LOG when set (one log for every trial, wherever it runs). Like `mitosis run`, it stops
 * (exit 137) when the process named by MITOSIS_PARENT_PID is no longer its parent. A finished trial also
 * writes `model/model.json`, a stand-in for the final model folder.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';

const argv = process.argv.slice(2);
if (argv[0] !== 'run') {
  process.stderr.write(`fake-trial: expected the run command, got ${argv[0] ?? 'nothing'}\n`);
  process.exit(2);
}
const flags = new Map<string, string | true>();
for (let i = 1; i < argv.length; i++) {
  const a = argv[i] as string;
  if (!a.startsWith('--')) continue;
  const next = argv[i + 1];
  if (next === undefined || next.startsWith('--')) flags.set(a, true);
  else {
    flags.set(a, next);
    i++;
  }
}
const str = (name: string): string | undefined => {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
};
const out = str('--out');
const method = str('--method');
const budgetText = str('--budget');
if (out === undefined || method === undefined || budgetText === undefined || str('--space') === undefined) {
  process.stderr.write('fake-trial: --out, --method, --budget and --space are required\n');
  process.exit(2);
}
const seed = Number(str('--seed') ?? '0');
const rounds = Number(str('--rounds') ?? '3');
const device = str('--profile') ?? null;
const m = /^([0-9.e+]+)(macs|params|ms|mJ)$/.exec(budgetText);
if (m === null) {
  process.stderr.write(`fake-trial: cannot read --budget ${budgetText}\n`);
  process.exit(2);
}
const budget = { value: Number(m[1]), unit: m[2] as string };
const roundMs = Number(process.env['FAKE_TRIAL_ROUND_MS'] ?? '40');
const listed = (name: string): boolean => {
  const entries = (process.env[name] ?? '').split(',').filter((s) => s.length > 0);
  return entries.includes(method as string) || entries.includes(`${method}@${seed}`);
};

/** A number in [0, 1) from the configuration, so results are reproducible. */
function unit(tag: string): number {
  const h = createHash('sha256').update(`${method}|${str('--method-options') ?? ''}|${budgetText}|${device}|${seed}|${tag}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

mkdirSync(out, { recursive: true });
const checkpoint = join(out, 'checkpoint.json');
const events = join(out, 'events.jsonl');
let round = 0;
let epochs = 0;
if (flags.get('--resume') === true && existsSync(checkpoint)) {
  const c = JSON.parse(readFileSync(checkpoint, 'utf8')) as { round: number; epochs: number };
  round = c.round + 1;
  epochs = c.epochs;
}
appendFileSync(join(out, 'fake-starts.txt'), `start ${round}\n`);
const startLog = process.env['FAKE_TRIAL_START_LOG'];
if (startLog !== undefined && startLog !== '') appendFileSync(startLog, `${basename(out)} start ${round}\n`);
if (listed('FAKE_TRIAL_BAD')) {
  process.stderr.write(`fake-trial: E_OPTIONS_INVALID: invalid options for ${method}\n`);
  process.exit(2);
}
const parentPid = Number(process.env['MITOSIS_PARENT_PID'] ?? 'NaN');
/** Exits when the executor that started this trial is gone (re-parented), as `mitosis run` does. */
const checkParent = (): void => {
  if (Number.isInteger(parentPid) && parentPid > 1 && process.ppid !== parentPid) {
    process.stderr.write(`fake-trial: the executor ${parentPid} is gone; stopping\n`);
    process.exit(137);
  }
};
process.stderr.write(`fake-trial ${method} seed ${seed}: starting at round ${round}\n`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const accuracyAt = (r: number): number => 0.6 + 0.05 * r + 0.02 * unit('acc');
const widthsAt = (r: number): Record<string, number> => ({ conv1: 8 + r, conv2: 16 + 2 * r, fc: 32 });

for (; round <= rounds; round++) {
  await sleep(roundMs);
  checkParent();
  epochs += round === 0 ? 4 : 2;
  const event = {
    type: round === 0 ? 'seed' : 'round',
    round,
    trainLoss: 1 - accuracyAt(round),
    valAccuracy: accuracyAt(round) - 0.01,
    testAccuracy: null,
    cost: { macs: budget.value * (0.7 + 0.08 * round), params: 1000 + 100 * round },
    widths: widthsAt(round),
    epochs,
  };
  appendFileSync(events, `${JSON.stringify(event)}\n`);
  writeFileSync(checkpoint, JSON.stringify({ round, epochs }));
  process.stderr.write(`round ${round}: fine-tuning\n`);
  if (round === 0 && listed('FAKE_TRIAL_CRASH')) {
    process.stderr.write(`fake-trial: simulated crash of ${method} seed ${seed}\n    at fakeTrial (fake-trial.js)\n`);
    process.exit(1);
  }
  if (round === 0 && listed('FAKE_TRIAL_SIGINT')) {
    process.kill(process.pid, 'SIGINT');
    await sleep(10_000);
  }
}
const final = rounds;
const cost = budget.unit === 'macs' ? { macs: budget.value * (0.7 + 0.08 * final), params: 1000 + 100 * final } : { macs: 5e5, params: 1000 };
const used = budget.unit === 'macs' ? (cost.macs as number) / budget.value : null;
const summary = {
  format: 'mitosis-run-summary',
  version: 2,
  runDir: out,
  space: 'fake-space',
  method,
  kind: method.startsWith('prune') ? 'pruner' : 'grower',
  options: JSON.parse(str('--method-options') ?? '{}') as unknown,
  device,
  seed,
  budget,
  budgetUsed: used,
  budgetMet: used === null ? null : used <= 1,
  rounds: final,
  stopReason: 'rounds',
  epochs: { total: epochs, planned: 4 + 2 * rounds },
  wallMs: 10,
  phaseMs: { train: 1, score: 1, plan: 1, apply: 1, fineTune: 1, evaluate: 1 },
  final: { trainLoss: 0.3, valLoss: 0.35, valAccuracy: accuracyAt(final) - 0.01, testLoss: 0.36, testAccuracy: accuracyAt(final) },
  widths: widthsAt(final),
  cost,
  model: join(out, 'model'),
  log: events,
  summary: join(out, 'summary.json'),
};
mkdirSync(join(out, 'model'), { recursive: true });
writeFileSync(join(out, 'model', 'model.json'), `${JSON.stringify({ format: 'fake-model', method, seed, widths: widthsAt(final) })}\n`);
writeFileSync(join(out, 'summary.json.tmp'), `${JSON.stringify(summary, null, 2)}\n`);
renameSync(join(out, 'summary.json.tmp'), join(out, 'summary.json'));
if (flags.get('--json') === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(used !== null && used > 1 ? 1 : 0);
