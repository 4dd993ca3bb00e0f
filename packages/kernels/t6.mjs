import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, createRefnet } from './dist/index.js';
await initWasmBackend();
const m = createRefnet();
const x = tf.randomNormal([64,32,32,3]); const lab = tf.cast(tf.oneHot(tf.tensor1d([1,2,3,4,5,6,7,8].concat(Array(56).fill(0)),'int32'),10),'float32');
m.step(x, lab); m.step(x, lab);
for (let r=0;r<3;r++){ const t0=performance.now(); m.step(x, lab); console.log('step', (performance.now()-t0).toFixed(0)); }
const info = await tf.profile(() => { m.step(x, lab); });
const outerNames = new Set(['DepthwiseConv2dNativeBackpropFilter','Conv2DBackpropFilter','Conv2DBackpropInput','DepthwiseConv2dNativeBackpropInput','forward']);
const agg = new Map();
for (const k of info.kernels) { const e = agg.get(k.name) ?? [0,0]; e[0]++; e[1]+=k.kernelTimeMs; agg.set(k.name,e); }
for (const [n,[c,t]] of [...agg.entries()].sort((a,b)=>b[1][1]-a[1][1]).slice(0,22)) console.log(n.padEnd(38), String(c).padStart(4), t.toFixed(1).padStart(8));
const top = info.kernels.filter(k=>['BatchMatMul','Conv2DBackpropFilter','Conv2DBackpropInput','Conv2D','Multiply','AvgPool'].includes(k.name) && k.kernelTimeMs > 1.5);
for (const k of top) console.log(k.name.padEnd(36), k.kernelTimeMs.toFixed(1).padStart(7), JSON.stringify(k.inputShapes));
