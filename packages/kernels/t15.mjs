import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm');
for (const [M,C] of [[65536,64],[69628,64],[7,3],[18460,128],[4096,256]]) {
  const x = tf.add(tf.randomNormal([M, C]), 0.7);
  const a = tf.avgPool(tf.reshape(x,[1,M,1,C]), [M,1], [M,1], 'valid');
  const b = tf.mean(x, 0);
  const d = tf.max(tf.abs(tf.sub(tf.reshape(a,[C]), b))).dataSync()[0];
  console.log(M, C, a.shape, d);
}
