import { NasError, SeededRandom, type Dataset } from '@mitosis/core';
import { forward } from '../model/forward.js';
import type { NetworkModel } from '../model/network-model.js';
import { tf } from '../tf.js';
import { batchTensors, checkDatasetFits } from './batches.js';
import { defaultLoss, evaluate } from './evaluate.js';
import { computeLoss, countCorrect, type LossKind } from './losses.js';
import { Optimizer, type OptimizerConfig } from './optimizers.js';
import { createProgress } from './progress.js';
import { learningRateAt, type ScheduleConfig } from './schedules.js';

/** Options of {@link train}. */
export interface TrainConfig {
  /** Epochs to run in this call. */
  readonly epochs: number;
  readonly batchSize: number;
  /** Base learning rate (before the schedule). */
  readonly learningRate: number;
  /** A config (a fresh optimizer is made) or an optimizer to continue, e.g. from a checkpoint. Default SGD, momentum 0.9. */
  readonly optimizer?: OptimizerConfig | Optimizer;
  /** Default constant. */
  readonly schedule?: ScheduleConfig;
  /** Default: from the task (softmax cross-entropy or ½-MSE). */
  readonly loss?: LossKind;
  /** Seeds shuffling and dropout when `rng` is absent. Default 0. */
  readonly seed?: number;
  /** A stream to continue (from a checkpoint); takes precedence over `seed`. */
  readonly rng?: SeededRandom;
  /** Number of the first epoch of this call (for resumed runs and schedules). Default 0. */
  readonly startEpoch?: number;
  /** Total epochs the schedule spans (default `startEpoch + epochs`). */
  readonly scheduleEpochs?: number;
  /** An L1 penalty `strength`·Σ|w| on these weights (`<node>/<param>` keys) added to the training loss. */
  readonly l1?: L1Penalty;
  /** Progress bar on stderr; `json: true` (or a non-TTY stderr) keeps it silent. */
  readonly progress?: { readonly label?: string; readonly json?: boolean } | false;
}

/** Metrics of one epoch. */
export interface EpochMetrics {
  readonly epoch: number;
  /** Mean training loss over the epoch's samples (training mode). */
  readonly loss: number;
  /** Training accuracy in [0, 1] (training mode); absent for regression. */
  readonly accuracy?: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  /** Training samples per second of wall time (forward, backward and update; validation excluded). */
  readonly imagesPerSecond: number;
  /** Learning rate of the epoch's last step. */
  readonly learningRate: number;
  readonly durationMs: number;
}

/** Hooks of {@link train}; may be async. */
export interface TrainCallbacks {
  onEpochEnd?(metrics: EpochMetrics): void | Promise<void>;
  onBatchEnd?(info: { epoch: number; batch: number; batches: number; loss: number }): void | Promise<void>;
}

/** What {@link train} leaves behind. The caller owns (and disposes) the optimizer. */
export interface TrainResult {
  readonly history: readonly EpochMetrics[];
  readonly optimizer: Optimizer;
  /** The shuffling/dropout stream after the last epoch (for checkpoints). */
  readonly rng: SeededRandom;
}

/** An L1 penalty on some weights (network slimming's sparsity on batch-norm scales). */
export interface L1Penalty {
  readonly keys: readonly string[];
  readonly strength: number;
}

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  readonly loss: LossKind;
  readonly learningRate: number;
  /** Seeds dropout; default the model's stream. */
  readonly rng?: SeededRandom;
  /** Count correct predictions (classification). */
  readonly task: 'classification' | 'regression';
  /** Variables to train; default every trainable variable. */
  readonly varList?: ReadonlyMap<string, tf.Variable>;
  /** Adds `strength`·Σ|w| over `keys` to the loss that is differentiated; the returned loss is the data loss. */
  readonly l1?: L1Penalty;
  /** When given, the step adds its wall time per phase to it (see {@link StepTimings}). */
  readonly timings?: StepTimings;
}

/**
 * Wall time of training steps by phase, in ms, added up over the steps that were given this object. Kernels run
 * synchronously on the `wasm` and `cpu` backends, so the phase boundaries are exact there.
 * - `forward`: the forward pass in training mode (batch statistics, moving-statistics update), the loss and the
 *   correct-prediction count, with the gradient tape recording;
 * - `backward`: the gradients of the loss with respect to every trainable variable (the tape played back);
 * - `optimizer`: the update of the variables and optimizer slots, then reading the loss and count back.
 */
export interface StepTimings {
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  steps: number;
}

/**
 * One optimisation step on a batch (`x` `[n, ...inputShape]`, `y` labels `[n]` or targets `[n, k]`): forward in
 * training mode (batch-norm moving statistics updated), backward, optimizer update. Returns the batch's mean
 * loss and number of correct predictions (0 for regression). Leaves no tensors behind; `x`, `y` stay owned by
 * the caller.
 */
export function trainStep(
  model: NetworkModel,
  optimizer: Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  options: TrainStepOptions,
): { loss: number; correct: number } {
  const trainable = options.varList ?? model.trainableVariables();
  const keyOf = new Map([...trainable].map(([k, v]) => [v.name, k]));
  const held: { correct?: tf.Scalar; data?: tf.Scalar } = {};
  const penalised = options.l1 !== undefined && options.l1.strength > 0 && options.l1.keys.length > 0 ? options.l1 : null;
  const timings = options.timings;
  const t0 = timings === undefined ? 0 : performance.now();
  let t1 = 0;
  // The gradients are computed in one scope and applied after it has released every intermediate tensor: the
  // update then runs with the least memory held, and no saved tensor still shares a buffer with a weight or an
  // optimizer slot (which the wasm optimizer path requires of slots it updates in place).
  const { lossT, grads } = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const out = forward(model, x, { training: true, ...(options.rng !== undefined ? { rng: options.rng } : {}) });
      if (options.task === 'classification') held.correct = tf.keep(countCorrect(out, y));
      const data = computeLoss(options.loss, out, y);
      if (timings !== undefined && penalised === null) t1 = performance.now();
      if (penalised === null) return data;
      held.data = tf.keep(data);
      const norms = penalised.keys.map((key) => tf.sum(tf.abs(model.variables.get(key) ?? missingWeight(key))));
      const total = tf.add(data, tf.mul(penalised.strength, tf.addN(norms))) as tf.Scalar;
      if (timings !== undefined) t1 = performance.now();
      return total;
    }, [...trainable.values()]);
    let kept: tf.Scalar = value;
    if (held.data !== undefined) {
      kept = held.data;
      delete held.data;
    }
    // A plain object: tidy keeps the tensors it finds in objects and arrays (not in a Map).
    return { lossT: kept, grads };
  });
  const byKey = new Map<string, tf.Tensor>();
  for (const [name, g] of Object.entries(grads)) byKey.set(keyOf.get(name) ?? name, g);
  const t2 = timings === undefined ? 0 : performance.now();
  try {
    optimizer.applyGradients(trainable, byKey, options.learningRate);
  } catch (error) {
    tf.dispose([lossT, ...(held.correct === undefined ? [] : [held.correct])]);
    throw error;
  } finally {
    tf.dispose([...byKey.values()]);
  }
  const loss = lossT.dataSync()[0] as number;
  lossT.dispose();
  let correct = 0;
  if (held.correct !== undefined) {
    correct = held.correct.dataSync()[0] as number;
    held.correct.dispose();
  }
  if (timings !== undefined) {
    const t3 = performance.now();
    timings.forwardMs += t1 - t0;
    timings.backwardMs += t2 - t1;
    timings.optimizerMs += t3 - t2;
    timings.steps += 1;
  }
  return { loss, correct };
}

function missingWeight(key: string): never {
  throw new NasError('E_SPEC_INVALID', `The L1 penalty names "${key}", which the network has no weight for`, { weight: key });
}

/**
 * Mini-batch training: each epoch shuffles the training set with a {@link SeededRandom} (Fisher–Yates), runs
 * forward in training mode, differentiates the loss with respect to the trainable variables and applies the
 * optimizer at the scheduled learning rate. After each epoch it evaluates `data.val` (when given) in eval mode.
 * Throws `E_DIVERGED` when the loss becomes non-finite. Leaves no tensors behind besides optimizer slots.
 */
export async function train(
  model: NetworkModel,
  data: { readonly train: Dataset; readonly val?: Dataset },
  config: TrainConfig,
  callbacks: TrainCallbacks = {},
): Promise<TrainResult> {
  const ds = data.train;
  checkDatasetFits(model.spec, ds);
  if (!(config.batchSize >= 1) || !(config.epochs >= 0) || !(config.learningRate >= 0)) {
    throw new NasError('E_OPTIONS_INVALID', 'train: batchSize must be ≥ 1, epochs ≥ 0 and learningRate ≥ 0', {
      batchSize: config.batchSize,
      epochs: config.epochs,
      learningRate: config.learningRate,
    });
  }
  const loss = config.loss ?? defaultLoss(ds);
  const rng = config.rng ?? new SeededRandom(config.seed ?? 0);
  const ownsOptimizer = !(config.optimizer instanceof Optimizer);
  const optimizer =
    config.optimizer instanceof Optimizer ? config.optimizer : new Optimizer(config.optimizer ?? { kind: 'sgd', momentum: 0.9 });
  const schedule = config.schedule ?? { kind: 'constant' };
  const startEpoch = config.startEpoch ?? 0;
  const scheduleEpochs = config.scheduleEpochs ?? startEpoch + config.epochs;
  const batches = Math.ceil(ds.count / config.batchSize);
  const trainable = model.trainableVariables();
  const history: EpochMetrics[] = [];
  const order = new Int32Array(ds.count);

  try {
    for (let epoch = startEpoch; epoch < startEpoch + config.epochs; epoch++) {
      const progress =
        config.progress === false
          ? createProgress('', 0, { json: true })
          : createProgress(config.progress?.label ?? `epoch ${epoch + 1}`, batches, config.progress ?? {});
      for (let i = 0; i < order.length; i++) order[i] = i;
      rng.shuffle(order);
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      let lr = config.learningRate;
      for (let b = 0; b < batches; b++) {
        const start = b * config.batchSize;
        const end = Math.min(ds.count, start + config.batchSize);
        lr = learningRateAt(schedule, config.learningRate, epoch * batches + b, batches, scheduleEpochs);
        const { x, y } = batchTensors(ds, order, start, end);
        let step: { loss: number; correct: number };
        try {
          step = trainStep(model, optimizer, x, y, { loss, learningRate: lr, rng, task: ds.task, varList: trainable, ...(config.l1 === undefined ? {} : { l1: config.l1 }) });
        } finally {
          tf.dispose([x, y]);
        }
        const batchLoss = step.loss;
        correct += step.correct;
        if (!Number.isFinite(batchLoss)) {
          progress.stop();
          throw new NasError(
            'E_DIVERGED',
            `Training diverged: loss ${batchLoss} at epoch ${epoch + 1}, batch ${b + 1}; lower the learning rate`,
            { epoch, batch: b, loss: String(batchLoss), learningRate: lr },
          );
        }
        lossSum += batchLoss * (end - start);
        progress.update(b + 1, `loss ${(lossSum / end).toFixed(4)}`);
        await callbacks.onBatchEnd?.({ epoch, batch: b, batches, loss: batchLoss });
      }
      const durationMs = performance.now() - t0;
      progress.stop();
      let metrics: EpochMetrics = {
        epoch,
        loss: lossSum / ds.count,
        ...(ds.task === 'classification' ? { accuracy: correct / ds.count } : {}),
        imagesPerSecond: ds.count / (durationMs / 1000),
        learningRate: lr,
        durationMs,
      };
      if (data.val !== undefined && data.val.count > 0) {
        const val = evaluate(model, data.val, config.batchSize, loss);
        metrics = { ...metrics, valLoss: val.loss, ...(val.accuracy !== undefined ? { valAccuracy: val.accuracy } : {}) };
      }
      history.push(metrics);
      await callbacks.onEpochEnd?.(metrics);
    }
  } catch (error) {
    // A diverged (or otherwise failed) run must not leak the slots of an optimizer made here.
    if (ownsOptimizer) optimizer.dispose();
    throw error;
  }
  return { history, optimizer, rng };
}
