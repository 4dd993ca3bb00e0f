import type { Dataset } from '@mitosis/core';
import { forward } from '../model/forward.js';
import type { NetworkModel } from '../model/network-model.js';
import { tf } from '../tf.js';
import { batchTensors, checkDatasetFits } from './batches.js';
import { computeLoss, countCorrect, type LossKind } from './losses.js';

/** Loss and (for classification) accuracy of a model on a data set. */
export interface EvaluationMetrics {
  /** Mean loss per sample. */
  readonly loss: number;
  /** Fraction in [0, 1]; absent for regression. */
  readonly accuracy?: number;
  readonly count: number;
}

/** The loss mitosis uses for a task: softmax cross-entropy for classification, ½-MSE for regression. */
export function defaultLoss(data: Dataset): LossKind {
  return data.task === 'classification' ? 'softmaxCrossEntropy' : 'mse';
}

/** Evaluates `model` in eval mode (moving batch-norm statistics, no dropout) over `dataset` in batches. */
export function evaluate(model: NetworkModel, dataset: Dataset, batchSize: number, loss: LossKind = defaultLoss(dataset)): EvaluationMetrics {
  checkDatasetFits(model.spec, dataset);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < dataset.count; start += batchSize) {
    const end = Math.min(dataset.count, start + batchSize);
    const { x, y } = batchTensors(dataset, null, start, end);
    const [l, c] = tf.tidy(() => {
      const out = forward(model, x, { training: false });
      const lv = computeLoss(loss, out, y);
      return [lv, dataset.task === 'classification' ? countCorrect(out, y) : tf.scalar(0)];
    });
    lossSum += (l.dataSync()[0] as number) * (end - start);
    correct += c.dataSync()[0] as number;
    tf.dispose([x, y, l, c]);
  }
  const count = dataset.count;
  const lossMean = count > 0 ? lossSum / count : Number.NaN;
  return dataset.task === 'classification'
    ? { loss: lossMean, accuracy: count > 0 ? correct / count : Number.NaN, count }
    : { loss: lossMean, count };
}
