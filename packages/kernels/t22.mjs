import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
const X = tf.randomNormal([65536, 64]); const a = tf.randomNormal([64]); const b = tf.randomNormal([64]);
for (let rep=0; rep<3; rep++) {
t('fresh', ()=>tf.tidy(()=>{tf.add(X,0)}));
t('mul add relu', ()=>tf.tidy(()=>{tf.relu(tf.add(tf.mul(tf.add(X,0), a), b))}));
t('fused dw1x1 relu', ()=>tf.tidy(()=>{tf.fused.depthwiseConv2d({x: tf.reshape(tf.add(X,0),[1,65536,1,64]), filter: tf.reshape(a,[1,1,64,1]), strides:1, pad:'valid', bias: b, activation:'relu'})}));
t('fused dw1x1 4d relu', ()=>tf.tidy(()=>{tf.fused.depthwiseConv2d({x: tf.reshape(tf.add(X,0),[64,32,32,64]), filter: tf.reshape(a,[1,1,64,1]), strides:1, pad:'valid', bias: b, activation:'relu'})}));
t('fused dw1x1 linear', ()=>tf.tidy(()=>{tf.fused.depthwiseConv2d({x: tf.reshape(tf.add(X,0),[64,32,32,64]), filter: tf.reshape(a,[1,1,64,1]), strides:1, pad:'valid', bias: b})}));
t('batchNorm op', ()=>tf.tidy(()=>{tf.batchNorm(tf.add(X,0), tf.zeros([64]), tf.ones([64]), b, a, 0)}));
}
const x4 = tf.reshape(X,[64,32,32,64]);
const r1 = tf.relu(tf.add(tf.mul(x4, a), b)); const r2 = tf.fused.depthwiseConv2d({x: x4, filter: tf.reshape(a,[1,1,64,1]), strides:1, pad:'valid', bias: b, activation:'relu'});
console.log('maxdiff', tf.max(tf.abs(tf.sub(r1,r2))).dataSync()[0]);
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(24), v.map(x=>x.toFixed(1)).join(' '));
