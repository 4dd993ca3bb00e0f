// Runs benchmarkEigen with the three eigen plugins at their schema defaults and prints a table (stderr) and the
// JSON report (stdout).
// Usage: node packages/splitting/scripts/bench-eigen.mjs [backend=wasm] [samples=128] [repeats=1] [channels=32,64]
//          [data=mnist|synthetic]
import { useBackend } from '@mitosis/engine';
import { benchmarkEigen, formatEigenBench } from '@mitosis/splitting';
import { DenseEigenSolver, denseOptionsSchema } from '@mitosis/plugin-eigen-dense';
import { RayleighEigenSolver, rayleighOptionsSchema } from '@mitosis/plugin-eigen-rayleigh';
import { LanczosEigenSolver, lanczosOptionsSchema } from '@mitosis/plugin-eigen-lanczos';

const defaults = (schema) => Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, v.default]));
const backend = process.argv[2] ?? 'wasm';
const samples = Number(process.argv[3] ?? 128);
const repeats = Number(process.argv[4] ?? 1);
const inputChannels = (process.argv[5] ?? '32,64').split(',').map(Number);
const data = process.argv[6] ?? 'mnist';
console.error(await useBackend(backend));
const report = await benchmarkEigen({
  solvers: [
    new DenseEigenSolver(defaults(denseOptionsSchema)),
    new RayleighEigenSolver(defaults(rayleighOptionsSchema)),
    new LanczosEigenSolver(defaults(lanczosOptionsSchema)),
  ],
  samples,
  repeats,
  inputChannels,
  data,
});
console.error(formatEigenBench(report));
console.log(JSON.stringify(report, null, 1));
