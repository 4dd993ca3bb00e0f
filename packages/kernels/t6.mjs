import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, createRefnet } from './dist/index.js';
await initWasmBackend();
const m = createRefnet();
const x = tf.randomNormal([64,32,32,3]); const lab = tf.cast(tf.oneHot(tf.tensor1d([1,2,3,4,5,6,7,8].concat(Array(56).fill(0)),'int32'),10),'float32');
m.step(x, lab); m.step(x, lab);
for (let r=0;r<2;r++){ const t0=performance.now(); m.step(x, lab); console.log('step', (performance.now()-t0).toFixed(0)); }
const info = await tf.profile(() => { m.step(x, lab); });
const ks = info.kernels.filter(k=>k.kernelTimeMs>4).sort((a,b)=>b.kernelTimeMs-a.kernelTimeMs);
for (const k of ks.slice(0,60)) console.log(k.name.padEnd(36), k.kernelTimeMs.toFixed(1).padStart(7), JSON.stringify(k.inputShapes), JSON.stringify(k.outputShapes));
