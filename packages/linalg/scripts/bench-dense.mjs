// Dense symmetric eigen timing at n (default 576): full decomposition (divide and conquer), the former full
// decomposition by QL rotations (symmetricEigenByQl) and the extreme pairs, with the orthogonality and residual of
// the full result. Wall and process CPU time per call, medians over `repeats`, alternating so all see the same load.
// Usage: node packages/linalg/scripts/bench-dense.mjs [n] [repeats]
import { cpus, loadavg } from 'node:os';
import { SeededRandom } from '@mitosis/core';
import { symmetricEigen, symmetricEigenByQl, symmetricExtremeEigen, symmetricWithSpectrum, splittingLikeSpectrum } from '@mitosis/linalg';
const n = Number(process.argv[2] ?? 576);
const repeats = Number(process.argv[3] ?? 3);
const rng = new SeededRandom(1);
const a = symmetricWithSpectrum(splittingLikeSpectrum(n, rng), rng);
const time = (f) => {
  const c = process.cpuUsage();
  const t = performance.now();
  f();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
};
const runs = { full: [], fullQl: [], extreme: [] };
for (let r = 0; r < repeats; r++) {
  runs.full.push(time(() => symmetricEigen(a, n)));
  runs.fullQl.push(time(() => symmetricEigenByQl(a, n)));
  runs.extreme.push(time(() => symmetricExtremeEigen(a, n)));
}
const median = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
const out = { n, repeats, load1: +loadavg()[0].toFixed(2), cpus: cpus().length };
for (const [k, v] of Object.entries(runs)) {
  out[k] = { wallMs: v.map((x) => Math.round(x.wall)), cpuMs: v.map((x) => Math.round(x.cpu)), medianWallMs: Math.round(median(v.map((x) => x.wall))), medianCpuMs: Math.round(median(v.map((x) => x.cpu))) };
}
// Accuracy of the full decomposition, relative to ‖A‖ = max |λ|.
const { values, vectors } = symmetricEigen(a, n);
const norm = Math.max(Math.abs(values[0]), Math.abs(values[n - 1]));
let residual = 0;
let orthogonality = 0;
for (let k = 0; k < n; k++) {
  let r2 = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j] * vectors[k * n + j];
    r2 += (s - values[k] * vectors[k * n + i]) ** 2;
  }
  residual = Math.max(residual, Math.sqrt(r2) / norm);
  for (let l = k; l < n; l++) {
    let dd = 0;
    for (let i = 0; i < n; i++) dd += vectors[k * n + i] * vectors[l * n + i];
    orthogonality = Math.max(orthogonality, Math.abs(dd - (k === l ? 1 : 0)));
  }
}
out.full.relativeResidual = +residual.toExponential(2);
out.full.orthogonality = +orthogonality.toExponential(2);
console.log(JSON.stringify(out));
