import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, createRefnet } from './dist/index.js';
await initWasmBackend();
let depth = 0; const acc = new Map(); const byShape = new Map();
for (const cfg of tf.getKernelsForBackend('wasm')) {
  const f = cfg.kernelFunc;
  tf.unregisterKernel(cfg.kernelName, 'wasm');
  tf.registerKernel({ ...cfg, kernelFunc: (args) => { if (depth > 0) return f(args); depth++; const t0 = performance.now(); try { return f(args); } finally { depth--; const dt = performance.now() - t0; const e = acc.get(cfg.kernelName) ?? [0,0]; e[0]++; e[1]+=dt; acc.set(cfg.kernelName, e); const key = cfg.kernelName + ' ' + JSON.stringify(Object.values(args.inputs).map(t=>t?.shape)); byShape.set(key, (byShape.get(key) ?? 0) + dt); } } });
}
const m = createRefnet();
const x = tf.randomNormal([64,32,32,3]); const lab = tf.cast(tf.oneHot(tf.tensor1d([1,2,3,4,5,6,7,8].concat(Array(56).fill(0)),'int32'),10),'float32');
m.step(x, lab); m.step(x, lab);
acc.clear(); byShape.clear();
const N = 3; const t0 = performance.now();
for (let i=0;i<N;i++) m.step(x, lab);
const wall = (performance.now() - t0)/N;
let tot = 0; for (const [,v] of acc) tot += v[1]/N;
console.log('wall/step', wall.toFixed(1), 'kernels/step', tot.toFixed(1), 'overhead', (wall-tot).toFixed(1));
for (const [n,[c,t]] of [...acc.entries()].sort((a,b)=>b[1][1]-a[1][1]).slice(0,20)) console.log(n.padEnd(38), String(c/N).padStart(5), (t/N).toFixed(1).padStart(8));
console.log('---');
for (const [k,t] of [...byShape.entries()].sort((a,b)=>b[1]-a[1]).slice(0,30)) console.log((t/N).toFixed(1).padStart(7), k);
