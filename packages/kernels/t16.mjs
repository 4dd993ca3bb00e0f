import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
for (const [L,Ci,Co] of [[65536,32,64],[16384,128,128]]) {
const X = tf.randomNormal([L,Ci]), D = tf.randomNormal([L,Co]);
const fx = () => tf.add(X,0), fd = () => tf.add(D,0);
for (let rep=0; rep<2; rep++) {
t(`${L} ${Ci} ${Co} fresh x2`, ()=>tf.tidy(()=>{fx(); fd();}));
t(`${L} ${Ci} ${Co} a trD`, ()=>tf.tidy(()=>{tf.matMul(tf.transpose(fd()), fx())}));
t(`${L} ${Ci} ${Co} b trX`, ()=>tf.tidy(()=>{tf.matMul(tf.transpose(fx()), fd())}));
t(`${L} ${Ci} ${Co} c tA`, ()=>tf.tidy(()=>{tf.matMul(fx(), fd(), true, false)}));
t(`${L} ${Ci} ${Co} trD only`, ()=>tf.tidy(()=>{fx(); tf.transpose(fd())}));
for (const ch of [2048, 8192]) t(`${L} ${Ci} ${Co} e chunk${ch}`, ()=>tf.tidy(()=>{ const x=fx(), d=fd(); const parts=[]; for (let r=0;r<L;r+=ch){ parts.push(tf.matMul(tf.transpose(tf.slice(d,[r,0],[ch,Co])), tf.slice(x,[r,0],[ch,Ci]))); } tf.addN(parts); }));
t(`${L} ${Ci} ${Co} batched`, ()=>tf.tidy(()=>{ const x=fx(), d=fd(); const B=16; tf.sum(tf.matMul(tf.transpose(tf.reshape(d,[B,L/B,Co]),[0,2,1]), tf.reshape(x,[B,L/B,Ci])),0); }));
}}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(30), v.map(x=>x.toFixed(1)).join(' '));
