import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, transpose2d } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const c0=process.cpuUsage(); f(); f(); f(); const c=process.cpuUsage(c0); const ms=(c.user+c.system)/3000; (res[name] ??= []).push(ms); }
for (const [L, Ci, Co] of [[16384,128,128],[65536,32,64],[16384,64,128],[4096,128,256]]) {
const D = tf.randomNormal([L, Co]); const X = tf.randomNormal([L, Ci]);
const now = () => Ci <= Co ? tf.transpose(tf.matMul(transpose2d(tf.add(D,0)), X)) : tf.matMul(transpose2d(X), tf.add(D,0));
const batched = (B) => { const d = tf.add(D,0); if (Ci <= Co) { const dT = tf.reshape(tf.transpose(tf.reshape(d,[B, L/B, Co, 1]),[0,2,1,3]),[B, Co, L/B]); return tf.transpose(tf.sum(tf.matMul(dT, tf.reshape(X,[B, L/B, Ci])),0)); } else { const xT = tf.reshape(tf.transpose(tf.reshape(X,[B, L/B, Ci, 1]),[0,2,1,3]),[B, Ci, L/B]); return tf.sum(tf.matMul(xT, tf.reshape(d,[B, L/B, Co])),0); } };
console.log('diff', tf.max(tf.abs(tf.sub(now(), batched(64)))).dataSync()[0]);
for (let rep=0; rep<2; rep++) {
t(`${L} ${Ci} ${Co} now`, ()=>tf.tidy(()=>{ now() }));
for (const B of [8, 64]) t(`${L} ${Ci} ${Co} batched B${B}`, ()=>tf.tidy(()=>{ batched(B) }));
}}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(30), v.map(x=>x.toFixed(1)).join(' '));
