import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
for (const [L,C] of [[65536,32],[65536,64],[16384,128],[4096,256]]) {
const D = tf.randomNormal([L,C]); const I = tf.eye(C); const fd = () => tf.add(D,0);
for (let rep=0; rep<2; rep++) {
t(`${L} ${C} fresh`, ()=>tf.tidy(()=>{fd();}));
t(`${L} ${C} transpose`, ()=>tf.tidy(()=>{tf.transpose(fd())}));
t(`${L} ${C} eye tB`, ()=>tf.tidy(()=>{tf.matMul(I, fd(), false, true)}));
t(`${L} ${C} 4d-transpose`, ()=>tf.tidy(()=>{tf.transpose(tf.reshape(fd(), [L/64, 64, C, 1]), [0,2,1,3])}));
}
const x = tf.tidy(()=>tf.transpose(fd())); const y = tf.matMul(I, fd(), false, true); console.log('eq', tf.max(tf.abs(tf.sub(x,y))).dataSync()[0]);
}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(30), v.map(x=>x.toFixed(1)).join(' '));
