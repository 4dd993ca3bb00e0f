import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm');
const res = {};
function t(name, f){ f(); const s=performance.now(); f(); f(); f(); const ms=(performance.now()-s)/3; (res[name] ??= []).push(ms); }
const base = tf.randomNormal([64,32,32,64]);
const onesC = tf.ones([65536,1]);
for (let rep=0; rep<3; rep++) {
t('fresh (add 0)', ()=>tf.tidy(()=>{tf.add(base, 0)}));
t('reduce tA', ()=>tf.tidy(()=>{tf.matMul(tf.reshape(tf.add(base,0),[65536,64]), onesC, true, false)}));
t('avgpool 32x32', ()=>tf.tidy(()=>{tf.avgPool(tf.add(base,0), 32, 32, 'valid')}));
t('avgpool [1,256,256]', ()=>tf.tidy(()=>{tf.avgPool(tf.reshape(tf.add(base,0),[1,256,256,64]), 256, 256, 'valid')}));
t('avgpool [64,1024,1] w1024', ()=>tf.tidy(()=>{tf.avgPool(tf.reshape(tf.add(base,0),[64,1024,1,64]), [1024,1], [1024,1], 'valid')}));
t('avgpool [1,65536,1]', ()=>tf.tidy(()=>{tf.avgPool(tf.reshape(tf.add(base,0),[1,65536,1,64]), [65536,1], [65536,1], 'valid')}));
t('avgpool 8x8 then', ()=>tf.tidy(()=>{tf.avgPool(tf.add(base,0), 8, 8, 'valid')}));
t('sum all', ()=>tf.tidy(()=>{tf.sum(tf.add(base,0))}));
}
for (const [k,v] of Object.entries(res)) console.log(k.padEnd(28), v.map(x=>x.toFixed(1)).join(' '));
