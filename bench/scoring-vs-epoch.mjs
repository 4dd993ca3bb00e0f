#!/usr/bin/env node
// The growth round's scoring (splitting pass) cost against one training epoch on the same data, cold: runs
// `mitosis run --method <method> --space <space> --rounds 1` in a fresh process and a temporary directory, then
// reads its events.jsonl: the seed event's training time per epoch (its first training, every kernel cold) and
// round 1's scoring time (the first splitting pass of the process).
// usage: node bench/scoring-vs-epoch.mjs [space …] [--method energy-aware] [--method-options JSON] [--backend wasm]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const method = flag('--method', 'energy-aware');
const backend = flag('--backend', 'wasm');
const methodOptions = flag('--method-options', undefined);
const spaces = args.length > 0 ? args : ['convnet-fashion', 'mobilenetv1-cifar'];
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'cli', 'dist', 'main.js');

const rows = [];
for (const space of spaces) {
  const dir = mkdtempSync(join(tmpdir(), 'mitosis-scoring-'));
  try {
    const out = join(dir, 'run');
    const extra = methodOptions === undefined ? [] : ['--method-options', methodOptions];
    execFileSync(process.execPath, [cli, 'run', '--method', method, ...extra, '--space', space, '--rounds', '1', '--backend', backend, '--out', out], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const seed = events.find((e) => e.type === 'seed');
    const round = events.find((e) => e.type === 'round' && e.round === 1);
    if (seed === undefined || round === undefined) throw new Error(`${space}: the run has no seed or round-1 event`);
    const epochMs = seed.timeMs.train / seed.epochs;
    const scoreMs = round.timeMs.score;
    rows.push({ space, method, epochMs: Math.round(epochMs), scoreMs, ratio: scoreMs / epochMs, scoring: round.change?.scoring ?? null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const r of rows) {
  const s = r.scoring === null ? '' : ` (${r.scoring.solver}, ${r.scoring.neurons} neurons, ${r.scoring.recovered} recovered by lanczos)`;
  console.log(`${r.space} ${r.method}: scoring ${r.scoreMs} ms, one training epoch ${r.epochMs} ms: ratio ${r.ratio.toFixed(2)}${s}`);
}
if (process.env.JSON === '1') console.log(JSON.stringify(rows));
