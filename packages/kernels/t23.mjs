import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, transpose2d, columnMeans } from './dist/index.js';
await initWasmBackend();
const res = {};
function t(name, f){ f(); const c0=process.cpuUsage(); f(); f(); f(); const c=process.cpuUsage(c0); const ms=(c.user+c.system)/3000; (res[name] ??= []).push(ms); }
const C=64, L=69632;
const XT = tf.randomNormal([C, L+200]); const DT = tf.randomNormal([C, L]);
const X = tf.randomNormal([L+200, C]); const D = tf.randomNormal([L, C]);
for (let rep=0; rep<3; rep++) {
t('now: slice+mul+pool', ()=>tf.tidy(()=>{ const xs = tf.slice(tf.reshape(X,[-1]), [35*C], [L*C]); columnMeans(tf.mul(tf.reshape(xs,[L,C]), D)); }));
t('bGEMV slice+mm', ()=>tf.tidy(()=>{ const xs = tf.slice(XT, [0, 35], [C, L]); tf.matMul(tf.reshape(xs,[C,1,L]), tf.reshape(DT,[C,L,1])); }));
t('bGEMV mm only', ()=>tf.tidy(()=>{ tf.matMul(tf.reshape(tf.add(DT,0),[C,1,L]), tf.reshape(DT,[C,L,1])); }));
t('slice inner', ()=>tf.tidy(()=>{ tf.slice(XT, [0, 35], [C, L]); }));
t('mul+sum last', ()=>tf.tidy(()=>{ const xs = tf.slice(XT, [0, 35], [C, L]); tf.sum(tf.mul(xs, DT), 1); }));
}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(24), v.map(x=>x.toFixed(1)).join(' '));
