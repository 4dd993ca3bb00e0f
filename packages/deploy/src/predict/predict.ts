import * as ort from 'onnxruntime-node';
import { NasError, type Dataset, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { forward, NetworkModel, tf } from '@mitosis/engine';
import { readOnnxModelInfo, type InputNormalisation, type OnnxModelInfo, type OnnxOutputKind } from '../onnx/onnx-model-info.js';

/** What a model scored on a data set. */
export interface PredictionReport {
  /** Which runtime ran it: ONNX Runtime (CPU execution provider) or TF.js. */
  readonly format: 'onnx' | 'tfjs';
  /** Samples scored. */
  readonly count: number;
  /** Fraction of samples whose arg-max output is the label; `null` for regression. */
  readonly accuracy: number | null;
  /**
   * Mean loss per sample: softmax cross-entropy for classification (−log p of the label when the model outputs
   * probabilities), ½·mean squared error for regression — what `mitosis train` reports.
   */
  readonly loss: number;
  /** What the outputs were taken to be. */
  readonly outputKind: OnnxOutputKind;
  /** The `[count, ...outputShape]` outputs, row-major, when asked for. */
  readonly outputs?: Float32Array;
}

/** Options shared by {@link predictOnnx} and {@link predictTfjs}. */
export interface PredictOptions {
  /** Samples per batch (default 256). */
  readonly batchSize?: number;
  /** Keep every output in the report. */
  readonly keepOutputs?: boolean;
}

function checkSampleShape(dataset: Dataset, expected: readonly number[], model: string): void {
  const actual = dataset.inputShape;
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Data set "${dataset.name}" has samples of shape [${actual.join(', ')}] but the model ${model} expects [${expected.join(', ')}]`,
      { dataset: dataset.name, inputShape: [...actual], expected: [...expected], model },
    );
  }
}

/** Standard deviations below this divide by 1 (as `normalise` in `@mitosis/data`). */
const MIN_STD = 1e-8;

/**
 * `(x − mean[c]) / std[c]` over channels-last samples (c = the last axis), as mitosis normalises training data.
 * Throws `E_SHAPE_MISMATCH` when the statistics have another number of channels than the samples.
 */
export function normaliseInputs(x: Float32Array, channels: number, norm: InputNormalisation): Float32Array {
  if (norm.mean.length !== channels || norm.std.length !== channels) {
    throw new NasError('E_SHAPE_MISMATCH', `The input normalisation has ${norm.mean.length} channels but the samples have ${channels}`, {
      channels,
      statsChannels: norm.mean.length,
    });
  }
  const scale = norm.std.map((s) => (s < MIN_STD ? 1 : 1 / s));
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    out[i] = ((x[i] as number) - (norm.mean[c] as number)) * (scale[c] as number);
  }
  return out;
}

/** `[n, h, w, c]` → `[n, c, h, w]`. */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch] as number;
      }
    }
  }
  return out;
}

/** Accumulates accuracy and loss over batches of outputs. */
class Scorer {
  private correct = 0;
  private lossSum = 0;
  private seen = 0;
  readonly kept: Float32Array[] = [];

  constructor(
    private readonly dataset: Dataset,
    private readonly kind: OnnxOutputKind,
    private readonly keep: boolean,
  ) {}

  add(out: Float32Array, start: number, count: number): void {
    const ds = this.dataset;
    const width = out.length / count;
    if (this.keep) this.kept.push(Float32Array.from(out));
    if (ds.task === 'regression') {
      if (width !== ds.targetSize) throw this.widthError(width);
      for (let i = 0; i < out.length; i++) {
        const d = (out[i] as number) - (ds.y[start * width + i] as number);
        this.lossSum += (0.5 * d * d) / width;
      }
    } else {
      if (width !== ds.targetSize) throw this.widthError(width);
      for (let b = 0; b < count; b++) {
        const row = out.subarray(b * width, (b + 1) * width);
        const label = ds.y[start + b] as number;
        let arg = 0;
        let max = -Infinity;
        for (let k = 0; k < width; k++) {
          if ((row[k] as number) > max) {
            max = row[k] as number;
            arg = k;
          }
        }
        if (arg === label) this.correct++;
        if (this.kind === 'probabilities') this.lossSum += -Math.log(Math.max(row[label] as number, 1e-12));
        else {
          let sum = 0;
          for (let k = 0; k < width; k++) sum += Math.exp((row[k] as number) - max);
          this.lossSum += max + Math.log(sum) - (row[label] as number);
        }
      }
    }
    this.seen += count;
  }

  private widthError(width: number): NasError {
    const what = this.dataset.task === 'regression' ? 'target values' : 'classes';
    return new NasError(
      'E_SHAPE_MISMATCH',
      `The model outputs ${width} values per sample but data set "${this.dataset.name}" has ${this.dataset.targetSize} ${what}`,
      { dataset: this.dataset.name, outputs: width, targetSize: this.dataset.targetSize },
    );
  }

  report(format: 'onnx' | 'tfjs'): PredictionReport {
    const n = this.seen;
    let outputs: Float32Array | undefined;
    if (this.keep) {
      outputs = new Float32Array(this.kept.reduce((s, a) => s + a.length, 0));
      let at = 0;
      for (const a of this.kept) {
        outputs.set(a, at);
        at += a.length;
      }
    }
    return {
      format,
      count: n,
      accuracy: this.dataset.task === 'classification' ? (n > 0 ? this.correct / n : Number.NaN) : null,
      loss: n > 0 ? this.lossSum / n : Number.NaN,
      outputKind: this.kind,
      ...(outputs === undefined ? {} : { outputs }),
    };
  }
}

/** Options of {@link createOnnxSession}. */
export interface OnnxSessionOptions {
  /** ONNX Runtime intra-op threads (default: ONNX Runtime's choice, one per core). */
  readonly threads?: number;
}

/**
 * An ONNX Runtime session (CPU execution provider) over `bytes`. A model ONNX Runtime refuses is `E_MODEL_FORMAT`
 * naming `source` and ONNX Runtime's reason.
 */
export async function createOnnxSession(bytes: Uint8Array, source: string, options: OnnxSessionOptions = {}): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads, interOpNumThreads: 1 }),
    });
  } catch (error) {
    throw new NasError('E_MODEL_FORMAT', `${source}: ONNX Runtime cannot load the model: ${(error as Error).message}`, { file: source }, { cause: error });
  }
}

/**
 * Runs an ONNX model with ONNX Runtime on every sample of `dataset` (channels-last samples, as mitosis data sets
 * hold them) and scores it. The model's metadata says how to feed it: NCHW models get transposed batches, and a
 * model whose normalisation is recorded but not folded gets normalised inputs. Samples of another shape than the
 * model's are `E_SHAPE_MISMATCH`.
 */
export async function predictOnnx(bytes: Uint8Array, dataset: Dataset, source: string, options: PredictOptions & OnnxSessionOptions = {}): Promise<PredictionReport> {
  const info: OnnxModelInfo = readOnnxModelInfo(bytes, source);
  checkSampleShape(dataset, info.sampleShape, source);
  const session = await createOnnxSession(bytes, source, options);
  try {
    const sample = info.sampleShape.reduce((a, b) => a * b, 1);
    const channels = info.sampleShape[info.sampleShape.length - 1] ?? 1;
    const batch = options.batchSize ?? 256;
    const scorer = new Scorer(dataset, info.outputKind, options.keepOutputs === true);
    for (let start = 0; start < dataset.count; start += batch) {
      const n = Math.min(batch, dataset.count - start);
      let x = dataset.x.subarray(start * sample, (start + n) * sample);
      if (info.normalisation !== null && !info.normalisation.folded) x = normaliseInputs(x, channels, info.normalisation);
      if (info.inputLayout === 'NCHW') {
        const [h, w, c] = info.sampleShape as [number, number, number];
        x = nhwcToNchw(x, n, h, w, c);
      }
      const feeds = { [info.inputName]: new ort.Tensor('float32', Float32Array.from(x), [n, ...info.onnxInputShape]) };
      const result = await session.run(feeds);
      const out = result[info.outputName];
      if (out === undefined) throw new NasError('E_MODEL_FORMAT', `${source}: ONNX Runtime returned no "${info.outputName}"`, { file: source });
      scorer.add(out.data as Float32Array, start, n);
    }
    return scorer.report('onnx');
  } finally {
    await session.release();
  }
}

/**
 * Runs a mitosis network with TF.js (the active backend, eval mode) on every sample of `dataset`, after applying
 * `normalisation` when the model was trained on normalised inputs, and scores it like {@link predictOnnx}.
 */
export function predictTfjs(
  spec: NetworkSpec,
  weights: WeightMap,
  dataset: Dataset,
  normalisation: InputNormalisation | null,
  options: PredictOptions = {},
): PredictionReport {
  const input = spec.nodes.find((n) => n.op === 'input');
  const shape = input?.op === 'input' ? input.shape : [];
  checkSampleShape(dataset, shape, `"${spec.name ?? 'network'}"`);
  const model = new NetworkModel(spec, weights);
  try {
    const sample = shape.reduce((a, b) => a * b, 1);
    const channels = shape[shape.length - 1] ?? 1;
    const batch = options.batchSize ?? 256;
    const scorer = new Scorer(dataset, dataset.task === 'regression' ? 'values' : 'logits', options.keepOutputs === true);
    for (let start = 0; start < dataset.count; start += batch) {
      const n = Math.min(batch, dataset.count - start);
      let x = dataset.x.subarray(start * sample, (start + n) * sample);
      if (normalisation !== null) x = normaliseInputs(x, channels, normalisation);
      const out = tf.tidy(() => forward(model, tf.tensor(x, [n, ...shape]), { training: false }));
      scorer.add(out.dataSync() as Float32Array, start, n);
      out.dispose();
    }
    return scorer.report('tfjs');
  } finally {
    model.dispose();
  }
}
