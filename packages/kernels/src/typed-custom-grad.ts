import * as tf from '@tensorflow/tfjs-core';

/** The forward half of a custom-gradient op: the output and the backward function. */
export interface CustomGradResult {
  readonly value: tf.Tensor;
  /** Returns one gradient per input, in input order. */
  readonly gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
}

/**
 * A typed front for `tf.customGrad`, whose own signature mixes the inputs with the save function in
 * one rest parameter. `f` receives the inputs as an array and the save function separately.
 */
export function typedCustomGrad(
  f: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => CustomGradResult,
): (...inputs: tf.Tensor[]) => tf.Tensor {
  const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const r = f(args.slice(0, -1) as tf.Tensor[], save);
    return { value: r.value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => r.gradFunc(dy, saved) };
  });
  return (...inputs: tf.Tensor[]) => g(...inputs);
}
