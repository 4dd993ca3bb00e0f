import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, convBackpropFilter } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const c0=process.cpuUsage(); f(); f(); f(); const c=process.cpuUsage(c0); const ms=(c.user+c.system)/3000; (res[name] ??= []).push(ms); }
const x = tf.randomNormal([64,32,32,3]); const dy = tf.randomNormal([64,32,32,32]);
const conv1 = () => { const xp = tf.pad(x, [[0,0],[1,1],[1,1],[0,0]]); const X1 = tf.transpose(xp, [3,1,2,0]); const F1 = tf.transpose(tf.add(dy,0), [1,2,0,3]); const o = tf.conv2d(X1, F1, 1, 'valid'); return tf.transpose(o, [1,2,0,3]); };
const ref = convBackpropFilter(x, dy, [3,3,3,32], 1, 'same', undefined, false);
console.log('diff', tf.max(tf.abs(tf.sub(conv1(), ref))).dataSync()[0], tf.max(tf.abs(ref)).dataSync()[0]);
const D = tf.randomNormal([16384,128]); const W = tf.randomNormal([128,128]);
for (let rep=0; rep<3; rep++) {
t('conv1 filt now', ()=>tf.tidy(()=>{ convBackpropFilter(x, tf.add(dy,0), [3,3,3,32], 1, 'same', undefined, false) }));
t('conv1 filt conv', ()=>tf.tidy(()=>{ conv1() }));
t('tr dy [1,2,0,3]', ()=>tf.tidy(()=>{ tf.transpose(tf.add(dy,0), [1,2,0,3]) }));
t('pw in mm', ()=>tf.tidy(()=>{ tf.matMul(tf.add(D,0), tf.transpose(W)) }));
t('pw in conv', ()=>tf.tidy(()=>{ tf.conv2d(tf.reshape(tf.add(D,0),[64,16,16,128]), tf.reshape(tf.transpose(W),[1,1,128,128]), 1, 'valid') }));
}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(24), v.map(x=>x.toFixed(1)).join(' '));
