import * as tf from '@tensorflow/tfjs-core';

import { typedCustomGrad } from './typed-custom-grad.js';

/**
 * Mean softmax cross-entropy of `logits` `[N, K]` against one-hot (or soft) `labels` `[N, K]`,
 * as a scalar in nats: `−(1/N) Σₙ Σₖ labels·log softmax(logits)`. One fused custom gradient:
 * `d logits = dy · (softmax(logits) − labels) / N`; the labels get a zero gradient.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  const n = logits.shape[0];
  const f = typedCustomGrad(([z, t], save) => {
    if (z === undefined || t === undefined) throw new Error('softmaxCrossEntropy: 2 inputs');
    const logp = tf.logSoftmax(z);
    const value = tf.mul(tf.sum(tf.mul(t, logp)), -1 / n);
    save([logp, t]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [lp, lab] = saved as [tf.Tensor, tf.Tensor];
        const g = tf.mul(tf.sub(tf.exp(lp), lab), tf.mul(dy, 1 / n));
        return [g, tf.zerosLike(lab)];
      },
    };
  });
  return f(logits, labels) as tf.Scalar;
}
