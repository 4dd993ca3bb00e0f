import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
function tr2(d, B) { const [L,C] = d.shape; const a = tf.transpose(tf.reshape(d,[L/B,B,C,1]),[0,2,1,3]); return tf.reshape(tf.transpose(tf.reshape(a,[L/B,C,B,1]),[1,0,2,3]),[C,L]); }
function tr2b(d, B) { const [L,C] = d.shape; const a = tf.transpose(tf.reshape(d,[L/B,B,C]),[0,2,1]); return tf.reshape(tf.transpose(a,[1,0,2]),[C,L]); }
for (const [L,C] of [[65536,32],[65536,64],[16384,128],[4096,256],[69696,64]]) {
const D = tf.randomNormal([L,C]); const fd = () => tf.add(D,0);
for (let rep=0; rep<2; rep++) {
t(`${L} ${C} fresh`, ()=>tf.tidy(()=>{fd();}));
t(`${L} ${C} transpose`, ()=>tf.tidy(()=>{tf.transpose(fd())}));
for (const B of [16, 64]) if (L % B === 0) { t(`${L} ${C} 2step4d B${B}`, ()=>tf.tidy(()=>{tr2(fd(), B)})); t(`${L} ${C} 2step3d B${B}`, ()=>tf.tidy(()=>{tr2b(fd(), B)})); }
}
const B = L % 64 === 0 ? 64 : 16; const x = tf.tidy(()=>tf.transpose(fd())); const y = tr2(fd(), B); console.log('eq', tf.max(tf.abs(tf.sub(x,y))).dataSync()[0]);
}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(30), v.map(x=>x.toFixed(1)).join(' '));
