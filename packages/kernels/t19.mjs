import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
for (const [Co, L, Ci] of [[64,65536,32],[64,65536+16,32],[32,65536,64],[32,65536+16,64],[128,16384,128],[128,16384+16,128],[128,16384,64],[128,16384+16,64],[256,4096,128],[256,4096+16,128]]) {
const A = tf.randomNormal([Co, L]), B = tf.randomNormal([L, Ci]);
for (let rep=0; rep<2; rep++) {
t(`${Co} ${L} ${Ci} freshB`, ()=>tf.tidy(()=>{tf.add(B,0)}));
t(`${Co} ${L} ${Ci} mm freshB`, ()=>tf.tidy(()=>{tf.matMul(A, tf.add(B,0))}));
t(`${Co} ${L} ${Ci} mm cachedB`, ()=>tf.tidy(()=>{tf.matMul(tf.add(A,0), B)}));
}}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(34), v.map(x=>x.toFixed(1)).join(' '));
