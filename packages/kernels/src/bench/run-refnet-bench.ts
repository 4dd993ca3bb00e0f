import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs-core';

import { initWasmBackend } from '../wasm-backend.js';
import { benchRefnetStep, refnet32 } from './refnet-step.js';

/**
 * `node packages/kernels/dist/bench/run-refnet-bench.js [--backend wasm|cpu] [--steps N]
 * [--warmup N] [--batch N] [--repeat N] [--profile]`: prints one JSON line per repeat.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      batch: { type: 'string', default: String(refnet32.batch) },
      repeat: { type: 'string', default: '1' },
      profile: { type: 'boolean', default: false },
    },
  });
  if (values.backend === 'wasm') await initWasmBackend();
  else await tf.setBackend(values.backend);
  const shape = { ...refnet32, batch: Number(values.batch) };
  for (let r = 0; r < Number(values.repeat); r++) {
    const res = await benchRefnetStep({
      steps: Number(values.steps),
      warmup: r === 0 ? Number(values.warmup) : 0,
      shape,
      profile: values.profile && r === 0,
    });
    const { kernels, losses, ...rest } = res;
    console.log(JSON.stringify({ ...rest, firstLoss: losses[0], lastLoss: losses.at(-1) }));
    if (kernels !== undefined) {
      for (const k of kernels.slice(0, 30)) {
        console.log(`${k.name.padEnd(40)} ${String(k.calls).padStart(4)} ${k.totalMs.toFixed(1).padStart(8)} ms`);
      }
    }
  }
  console.log(JSON.stringify({ numTensors: tf.memory().numTensors }));
}

await main();
