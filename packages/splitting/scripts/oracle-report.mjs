// Operator error against the float64 split-Hessian oracle on the issue-12 test blocks, with the chain
// (current) and with firstActivationOnly (the matrix before the fix).
// Usage: node packages/splitting/scripts/oracle-report.mjs   (after `npx tsc -b packages/splitting`)
import { useBackend } from '@mitosis/engine';
import { compareWithOracle } from '../dist/split-oracle.js';
import { branching, chainSetup, invertedResidual, mobileNetV1 } from '../dist/test-networks.js';

await useBackend('cpu');
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const nets = [
  ['mbv1-tanh', mobileNetV1('tanh'), 1], ['mbv1-swish', mobileNetV1('swish'), 1],
  ['mbv2-tanh', invertedResidual('tanh'), 2], ['mbv2-swish', invertedResidual('swish'), 2], ['branching', branching(), 3],
];
for (const [label, spec, seed] of nets) {
  const { weights, data } = chainSetup(spec, seed);
  for (const first of [true, false]) {
    const checks = await compareWithOracle(spec, weights, data, { loss: 'mse', batchSize: 4, seed, firstActivationOnly: first });
    for (const node of [...new Set(checks.map((c) => c.node))]) {
      const c = checks.filter((x) => x.node === node);
      const f = (k) => Math.max(...c.map((x) => x[k]));
      console.log(`${label.padEnd(10)} ${node.padEnd(6)} ${first ? 'before' : 'after '}  max|ΔS|/ρ ${f('matrixErr').toExponential(1)}  λ err/ρ ${f('lambdaErr').toExponential(1)}  ` +
        `min|cos| ${Math.min(...c.map((x) => x.cosMin)).toFixed(3)}  ΔL/pred median ${median(c.map((x) => x.deltaRatio)).toFixed(3)} ` +
        `[${Math.min(...c.map((x) => x.deltaRatio)).toFixed(2)}, ${Math.max(...c.map((x) => x.deltaRatio)).toFixed(2)}]  sign(λmin) wrong ${c.filter((x) => Math.sign(x.lambdaMin) !== Math.sign(x.exactLambdaMin)).length}/${c.length}`);
    }
  }
}
