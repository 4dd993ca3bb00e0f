import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, batchNormTrain } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
const L = 65536, C = 64;
const base = tf.randomNormal([L, C]);
const onesC = tf.ones([L,1]); const onesR = tf.ones([1,L]);
const g = tf.ones([C]), b = tf.zeros([C]);
for (let rep=0; rep<3; rep++) {
t('fresh (add 0)', ()=>tf.tidy(()=>{tf.add(base, 0)}));
t('reduce tA', ()=>tf.tidy(()=>{tf.matMul(tf.add(base,0), onesC, true, false)}));
t('reduce sum0', ()=>tf.tidy(()=>{tf.sum(tf.add(base,0), 0)}));
t('reduce ones*X', ()=>tf.tidy(()=>{tf.matMul(onesR, tf.add(base,0))}));
t('reduce 4d mean', ()=>tf.tidy(()=>{tf.mean(tf.reshape(tf.add(base,0),[64,32,32,64]), [0,1,2])}));
t('sqdiff', ()=>tf.tidy(()=>{const x=tf.add(base,0); tf.squaredDifference(x, tf.ones([1,C]))}));
t('mul bc', ()=>tf.tidy(()=>{const x=tf.add(base,0); tf.mul(x, tf.ones([1,C]))}));
t('bnTrain fwd', ()=>tf.tidy(()=>{const x=tf.add(base,0); batchNormTrain(x, g, b)}));
t('bnTrain fwd+bwd', ()=>tf.tidy(()=>{const x=tf.add(base,0); tf.grads((x,g,b)=>tf.sum(batchNormTrain(x, g, b).y))([x,g,b])}));
t('transpose', ()=>tf.tidy(()=>{tf.transpose(tf.add(base,0))}));
}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(20), v.map(x=>x.toFixed(1)).join(' '));
