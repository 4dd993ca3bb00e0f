import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend, batchNormTrain, globalAvgPool, softmaxCrossEntropy } from './dist/index.js';
await initWasmBackend();
function t(name, f, n=4){ f(); const s=performance.now(); for(let i=0;i<n;i++){ f(); } const ms=(performance.now()-s)/n; console.log(name.padEnd(30), ms.toFixed(1),'ms'); return ms; }
const x = tf.randomNormal([64,32,32,3]);
const w1 = tf.randomNormal([3,3,3,32]);
const spec = [[32,64,1],[64,128,2],[128,128,1],[128,256,2]];
const blocks = spec.map(([ci,co,s])=>({s, dw: tf.randomNormal([3,3,ci,1]), pw: tf.randomNormal([1,1,ci,co]), g1: tf.ones([ci]), b1: tf.zeros([ci]), g2: tf.ones([co]), b2: tf.zeros([co])}));
const g0 = tf.ones([32]), b0 = tf.zeros([32]);
const fwd = (useBn) => { let h = tf.conv2d(x, w1, 1, 'same'); const bn = (h,g,b)=> useBn ? tf.relu(batchNormTrain(h,g,b).y) : tf.relu(h); h = bn(h,g0,b0);
  for (const bl of blocks) { h = bn(tf.depthwiseConv2d(h, bl.dw, bl.s, 'same'), bl.g1, bl.b1); h = bn(tf.conv2d(h, bl.pw, 1, 'same'), bl.g2, bl.b2); } return h; };
t('forward convs+relu only', ()=>tf.tidy(()=>{fwd(false)}));
t('forward with BN', ()=>tf.tidy(()=>{fwd(true)}));
// individual backprop kernels on refnet shapes
const shapes = [[64,32,32,32,1],[64,32,32,64,2],[64,16,16,128,1],[64,16,16,128,2]];
let tot=0;
for (const [n,h,c,s] of [[64,32,32,1],[64,32,64,2],[64,16,128,1],[64,16,128,2]]) {
  const xx = tf.randomNormal([n,h,h,c]); const dy = tf.randomNormal([n,h/s,h/s,c]); const f = tf.randomNormal([3,3,c,1]);
  tot+=t(`dwFilter ${h} ${c} s${s}`, ()=>tf.tidy(()=>{tf.depthwiseConv2dNativeBackpropFilter?.(xx, dy, [3,3,c,1], s, 'same') ?? tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter',{x:xx,dy},{strides:s,pad:'same',filterShape:[3,3,c,1],dilations:1})}));
  tot+=t(`dwInput ${h} ${c} s${s}`, ()=>tf.tidy(()=>{tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput',{dy,filter:f},{strides:s,pad:'same',inputShape:[n,h,h,c],dilations:1})}));
}
for (const [n,h,ci,co] of [[64,32,32,64],[64,16,64,128],[64,16,128,128],[64,8,128,256]]) {
  const xx = tf.randomNormal([n,h,h,ci]); const dy = tf.randomNormal([n,h,h,co]); const f = tf.randomNormal([1,1,ci,co]);
  tot+=t(`pwFilter ${h} ${ci}->${co}`, ()=>tf.tidy(()=>{tf.engine().runKernel('Conv2DBackpropFilter',{x:xx,dy},{strides:1,pad:'same',filterShape:[1,1,ci,co]})}));
  tot+=t(`pwInput ${h} ${ci}->${co}`, ()=>tf.tidy(()=>{tf.engine().runKernel('Conv2DBackpropInput',{dy,filter:f},{strides:1,pad:'same',inputShape:[n,h,h,ci]})}));
}
{ const dy = tf.randomNormal([64,32,32,32]); tot+=t('conv1 filter', ()=>tf.tidy(()=>{tf.engine().runKernel('Conv2DBackpropFilter',{x,dy},{strides:1,pad:'same',filterShape:[3,3,3,32]})})); }
console.log('backprop conv kernels total', tot.toFixed(0));
