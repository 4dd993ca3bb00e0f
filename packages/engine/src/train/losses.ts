import { softmaxCrossEntropy as fusedSoftmaxCrossEntropy } from '@mitosis/kernels';
import { tf } from '../tf.js';

/** The training objectives mitosis knows. */
export type LossKind = 'softmaxCrossEntropy' | 'mse';

/**
 * Mean softmax cross-entropy over the batch: (1/B)·Σ_b −log softmax(logits_b)[label_b].
 * `logits` `[batch, classes]`; `labels` `[batch]` class indices (int32 or float32 holding integers).
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1] ?? 0;
    const oneHot = tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32') as tf.Tensor1D, classes);
    // One fused custom gradient (softmax − one-hot)/B from @mitosis/kernels.
    return fusedSoftmaxCrossEntropy(tf.reshape(logits, [-1, classes]) as tf.Tensor2D, tf.cast(oneHot, 'float32') as tf.Tensor2D);
  });
}

/**
 * Mean squared error with the ½ convention of algorithms.md: mean over every element (batch × outputs) of
 * ½(f − y)², so that the gradient per element is (f − y)/count. `predictions` and `targets` share a shape
 * (targets are reshaped to the predictions' shape).
 */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const diff = tf.sub(predictions, tf.reshape(targets, predictions.shape));
    return tf.mul(tf.mean(tf.square(diff)), 0.5);
  });
}

/** Dispatches on {@link LossKind}. */
export function computeLoss(kind: LossKind, output: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return kind === 'softmaxCrossEntropy' ? softmaxCrossEntropy(output, targets) : meanSquaredError(output, targets);
}

/** Number of rows whose arg-max equals the label. `logits` `[batch, classes]`, `labels` `[batch]`. */
export function countCorrect(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(labels, 'int32')), 'float32')),
  );
}
