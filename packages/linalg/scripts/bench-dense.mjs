// Dense symmetric eigen timing at n (default 576): full decomposition and extreme pairs.
// Usage: node packages/linalg/scripts/bench-dense.mjs [n] [repeats]
import { SeededRandom } from '@mitosis/core';
import { symmetricEigen, symmetricExtremeEigen, symmetricWithSpectrum, splittingLikeSpectrum } from '@mitosis/linalg';
const n = Number(process.argv[2] ?? 576);
const repeats = Number(process.argv[3] ?? 3);
const rng = new SeededRandom(1);
const a = symmetricWithSpectrum(splittingLikeSpectrum(n, rng), rng);
const time = (f) => { const t = performance.now(); f(); return performance.now() - t; };
const full = [], extreme = [];
for (let r = 0; r < repeats; r++) { full.push(time(() => symmetricEigen(a, n))); extreme.push(time(() => symmetricExtremeEigen(a, n))); }
console.log(JSON.stringify({ n, fullMs: full.map((t) => Math.round(t)), extremeMs: extreme.map((t) => Math.round(t)) }));
