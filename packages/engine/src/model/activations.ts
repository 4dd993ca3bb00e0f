import type { ActivationKind } from '@mitosis/core';
import { tf } from '../tf.js';

/**
 * Applies an activation elementwise. `gaussian` is the RBF e^(−z²/2) and `swish` is z·sigmoid(z), matching the
 * curvature table of algorithms.md §2.1.
 */
export function applyActivation(kind: ActivationKind, z: tf.Tensor): tf.Tensor {
  switch (kind) {
    case 'relu':
      return tf.relu(z);
    case 'relu6':
      return tf.relu6(z);
    case 'tanh':
      return tf.tanh(z);
    case 'sigmoid':
      return tf.sigmoid(z);
    case 'softplus':
      return tf.softplus(z);
    case 'swish':
      return tf.mul(z, tf.sigmoid(z));
    case 'gaussian':
      return tf.exp(tf.mul(tf.square(z), -0.5));
    case 'identity':
      return z;
  }
}
