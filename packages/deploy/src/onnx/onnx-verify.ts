import * as ort from 'onnxruntime-node';
import { SeededRandom, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { forward, NetworkModel, tf } from '@mitosis/engine';
import { createOnnxSession, nhwcToNchw, normaliseInputs } from '../predict/predict.js';
import type { InputNormalisation, OnnxModelInfo } from './onnx-model-info.js';

/** How closely an exported model reproduces the TF.js model. */
export interface OnnxCheck {
  /** Largest |ONNX Runtime − TF.js| over every output value. */
  readonly maxAbsDiff: number;
  /** Largest |TF.js output|, for scale. */
  readonly maxAbsOutput: number;
  readonly samples: number;
}

/**
 * Runs an exported model in ONNX Runtime and the network it came from in TF.js (active backend, eval mode) on the
 * same `samples` random N(0, 1) raw inputs (seeded) and compares the outputs. Each side is fed as it expects: the
 * TF.js model normalised inputs when it was trained on them, the ONNX model raw inputs when the normalisation is
 * folded into it, and its own layout; a softmax export is compared with the softmax of the TF.js logits.
 */
export async function checkOnnxAgainstTfjs(
  bytes: Uint8Array,
  info: OnnxModelInfo,
  spec: NetworkSpec,
  weights: WeightMap,
  normalisation: InputNormalisation | null,
  options: { readonly samples?: number; readonly seed?: number; readonly threads?: number } = {},
): Promise<OnnxCheck> {
  const n = options.samples ?? 8;
  const shape = info.sampleShape;
  const channels = shape[shape.length - 1] ?? 1;
  const rng = new SeededRandom(options.seed ?? 0);
  const raw = new Float32Array(n * shape.reduce((a, b) => a * b, 1)).map(() => rng.normal());
  const normalised = normalisation === null ? raw : normaliseInputs(raw, channels, normalisation);
  const model = new NetworkModel(spec, weights);
  let expected: Float32Array;
  try {
    const y = tf.tidy(() => {
      const out = forward(model, tf.tensor(normalised, [n, ...shape]), { training: false });
      return info.outputKind === 'probabilities' ? tf.softmax(out) : out;
    });
    expected = Float32Array.from(y.dataSync() as Float32Array);
    y.dispose();
  } finally {
    model.dispose();
  }
  let fed = info.normalisation !== null && info.normalisation.folded ? raw : normalised;
  if (info.inputLayout === 'NCHW') fed = nhwcToNchw(fed, n, shape[0] as number, shape[1] as number, shape[2] as number);
  const session = await createOnnxSession(bytes, 'exported model', options.threads === undefined ? {} : { threads: options.threads });
  let actual: Float32Array;
  try {
    const result = await session.run({ [info.inputName]: new ort.Tensor('float32', fed, [n, ...info.onnxInputShape]) });
    actual = result[info.outputName]?.data as Float32Array;
  } finally {
    await session.release();
  }
  let maxAbsDiff = actual.length === expected.length ? 0 : Number.POSITIVE_INFINITY;
  let maxAbsOutput = 0;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs((actual[i] as number) - (expected[i] as number)));
    maxAbsOutput = Math.max(maxAbsOutput, Math.abs(expected[i] as number));
  }
  return { maxAbsDiff, maxAbsOutput, samples: n };
}
