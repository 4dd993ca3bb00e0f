import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, transpose2d } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
for (const [L, Ci, Co] of [[16384,128,128],[65536,32,64],[16384,64,128],[4096,128,256]]) {
const D = tf.randomNormal([L, Co]); const X = tf.randomNormal([L, Ci]); const W = tf.randomNormal([Ci, Co]);
for (let rep=0; rep<2; rep++) {
t(`${L} ${Ci} ${Co} in: mm`, ()=>tf.tidy(()=>{tf.matMul(tf.add(D,0), tf.transpose(W))}));
t(`${L} ${Ci} ${Co} in: mm tB`, ()=>tf.tidy(()=>{tf.matMul(tf.add(D,0), W, false, true)}));
t(`${L} ${Ci} ${Co} in: conv`, ()=>tf.tidy(()=>{tf.conv2d(tf.reshape(tf.add(D,0),[1,1,L,Co]), tf.reshape(tf.transpose(W),[1,1,Co,Ci]),1,'valid')}));
t(`${L} ${Ci} ${Co} in: conv4d`, ()=>tf.tidy(()=>{tf.conv2d(tf.reshape(tf.add(D,0),[L/64,8,8,Co]), tf.reshape(tf.transpose(W),[1,1,Co,Ci]),1,'valid')}));
t(`${L} ${Ci} ${Co} fwd conv (cached W)`, ()=>tf.tidy(()=>{tf.conv2d(tf.reshape(tf.add(X,0),[L/64,8,8,Ci]), tf.reshape(W,[1,1,Ci,Co]),1,'valid')}));
t(`${L} ${Ci} ${Co} filt: mm`, ()=>tf.tidy(()=>{tf.matMul(transpose2d(tf.add(D,0)), tf.add(X,0))}));
t(`${L} ${Ci} ${Co} filt: conv`, ()=>tf.tidy(()=>{tf.conv2d(tf.reshape(transpose2d(tf.add(D,0)),[Co,1,1,L]), tf.reshape(tf.add(X,0),[1,1,L,Ci]),1,'valid')}));
}}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(40), v.map(x=>x.toFixed(1)).join(' '));
