/**
 * Writes `hardware-profiles/local.json` by profiling this machine, then runs the local-profile benchmark:
 *   node packages/hardware/dist/tools/profile-local.js [out=hardware-profiles/local.json] [warmup=3] [repeats=10]
 */
import { runProfiler } from '../profiler/profiler.js';
import { validateLocalProfile } from '../profiler/validate-local.js';

const [out = 'hardware-profiles/local.json', warmup = '3', repeats = '10'] = process.argv.slice(2);
const t0 = performance.now();
const profile = await runProfiler({ deviceId: 'local', warmup: Number(warmup), repeats: Number(repeats), out, seed: 1, sample: 40 });
console.log(`profiled ${Object.keys(profile.table).length} ops in ${((performance.now() - t0) / 1000).toFixed(1)} s; fallback`, JSON.stringify(profile.fallback?.quality));
const check = await validateLocalProfile({ profile, warmup: Number(warmup), repeats: Number(repeats) });
for (const n of check.nets) console.log(n.name, n.measuredMs.toFixed(3), n.predictedMs.toFixed(3), `${n.predictedRows}/${n.rows} predicted rows`);
console.log(`kendall tau ${check.kendallTau.toFixed(3)}  MdAPE ${check.medianAbsPctError.toFixed(1)}%  (total ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
