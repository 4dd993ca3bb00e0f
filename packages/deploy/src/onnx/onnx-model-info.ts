import { NasError } from '@mitosis/core';
import { onnx } from './onnx-graph.js';

/** The ONNX operator set mitosis exports (ONNX 1.12's); the tests run every export in ONNX Runtime 1.31. */
export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17 (ONNX 1.12 writes IR 8). */
export const ONNX_IR_VERSION = 8;
/** Name of the graph's one input. */
export const ONNX_INPUT = 'input';
/** Name of the graph's one output. */
export const ONNX_OUTPUT = 'output';

/** Layout of an image input as fed to the ONNX model. */
export type OnnxInputLayout = 'nhwc' | 'nchw';

/** What the output holds: class logits, softmax probabilities, or regression values. */
export type OnnxOutputKind = 'logits' | 'probabilities' | 'values';

/** Per-channel input statistics: a model's inputs are `(x − mean[c]) / std[c]`, c the last axis of a sample. */
export interface InputNormalisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The `metadata_props` keys mitosis writes into every exported model. */
export const METADATA_KEYS = {
  /** `NHWC` or `NCHW` (image inputs), `NC` (flat inputs, channels last). */
  inputLayout: 'mitosis.input_layout',
  /** JSON array: one sample's shape as mitosis and TF.js see it (channels last), e.g. `[28,28,1]`. */
  sampleShape: 'mitosis.sample_shape',
  /** `logits`, `probabilities` or `values` (regression). */
  outputKind: 'mitosis.output',
  /** `true` when the graph ends in a softmax. */
  softmax: 'mitosis.softmax',
  /** `kept`, `folded`, `partly-folded` (some batch norms had no conv/dense to fold into) or `none`. */
  batchNorm: 'mitosis.batch_norm',
  /** JSON `{"mean": [...], "std": [...]}`: the training normalisation; absent when the model was trained on raw inputs. */
  normalisation: 'mitosis.normalisation',
  /** `true` when the graph applies {@link METADATA_KEYS.normalisation} itself (feed raw inputs), else `false`. */
  normalisationFolded: 'mitosis.normalisation_folded',
  /** JSON array of class names, when known. */
  labels: 'mitosis.labels',
  /** The network's name. */
  network: 'mitosis.network',
} as const;

/** What an exported model takes and returns, as recorded in its metadata. */
export interface OnnxModelInfo {
  readonly inputName: string;
  readonly outputName: string;
  readonly inputLayout: 'NHWC' | 'NCHW' | 'NC';
  /** One sample's shape, channels last (the TF.js model's input shape without the batch). */
  readonly sampleShape: readonly number[];
  /** One sample's shape as the ONNX input takes it (NCHW puts channels first). */
  readonly onnxInputShape: readonly number[];
  /** One sample's output shape (channels last). */
  readonly outputShape: readonly number[];
  readonly outputKind: OnnxOutputKind;
  readonly batchNorm: 'kept' | 'folded' | 'partly-folded' | 'none';
  /** The training normalisation: `folded` when the graph applies it (the model takes raw inputs). */
  readonly normalisation: (InputNormalisation & { readonly folded: boolean }) | null;
  readonly labels: readonly string[] | null;
  readonly network: string | null;
  readonly opset: number;
  readonly irVersion: number;
  readonly producer: string;
}

/** The model's `doc_string`: one paragraph saying what goes in and what comes out. */
export function describeModel(info: OnnxModelInfo): string {
  const shape = ['batch', ...info.onnxInputShape].join(', ');
  const norm =
    info.normalisation === null
      ? 'raw inputs (the model was trained without normalisation)'
      : info.normalisation.folded
        ? 'raw inputs (the training normalisation is part of the graph)'
        : `inputs normalised per channel as (x - mean) / std with mean ${JSON.stringify(info.normalisation.mean)} and std ${JSON.stringify(info.normalisation.std)}`;
  return `Exported by mitosis. Input "${info.inputName}" [${shape}] (${info.inputLayout}, float32): ${norm}. Output "${info.outputName}" [batch, ${info.outputShape.join(', ')}]: ${info.outputKind}.`;
}

function fail(source: string, message: string, extra: Record<string, unknown> = {}): NasError {
  return new NasError('E_MODEL_FORMAT', `${source}: ${message}`, { file: source, ...extra });
}

function dims(source: string, what: string, v: { type?: { tensorType?: { shape?: { dim?: { dimValue?: unknown; dimParam?: string | null }[] | null } | null } | null } | null }): (number | string)[] {
  const d = v.type?.tensorType?.shape?.dim;
  if (!Array.isArray(d)) throw fail(source, `the ${what} has no tensor shape`);
  return d.map((x) => (x.dimParam !== undefined && x.dimParam !== null && x.dimParam !== '' ? x.dimParam : Number(x.dimValue ?? 0)));
}

function parseJson<T>(source: string, key: string, text: string, check: (v: unknown) => v is T): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw fail(source, `metadata "${key}" is not valid JSON`, { key });
  }
  if (!check(v)) throw fail(source, `metadata "${key}" has an unexpected form`, { key });
  return v;
}

const numberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/**
 * Reads what an ONNX model takes and returns from its graph and metadata. Models mitosis did not write are read
 * too (one float input, one output; the layout is inferred from the input's rank: rank 4 is taken as NCHW, the
 * ONNX convention). Bytes that are not an ONNX model, or models with several inputs or outputs, are
 * `E_MODEL_FORMAT` naming `source`.
 */
export function readOnnxModelInfo(bytes: Uint8Array, source: string): OnnxModelInfo {
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw fail(source, `not an ONNX model (${(error as Error).message})`);
  }
  const graph = model.graph;
  if (graph === null || graph === undefined) throw fail(source, 'not an ONNX model (no graph)');
  const initialisers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initialisers.has(i.name));
  const outputs = graph.output ?? [];
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw fail(source, `mitosis runs models with one input and one output; this one has ${inputs.length} and ${outputs.length}`);
  }
  const input = inputs[0] as (typeof inputs)[number];
  const output = outputs[0] as (typeof outputs)[number];
  const inDims = dims(source, `input "${input.name}"`, input);
  const outDims = dims(source, `output "${output.name}"`, output);
  const meta = new Map(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  const sample = inDims.slice(1).map(Number);
  const declaredLayout = meta.get(METADATA_KEYS.inputLayout);
  const inputLayout: OnnxModelInfo['inputLayout'] =
    declaredLayout === 'NHWC' || declaredLayout === 'NCHW' || declaredLayout === 'NC' ? declaredLayout : sample.length === 3 ? 'NCHW' : 'NC';
  const sampleShape =
    meta.get(METADATA_KEYS.sampleShape) !== undefined
      ? parseJson(source, METADATA_KEYS.sampleShape, meta.get(METADATA_KEYS.sampleShape) as string, numberArray)
      : inputLayout === 'NCHW'
        ? [sample[1] as number, sample[2] as number, sample[0] as number]
        : sample;
  const kind = meta.get(METADATA_KEYS.outputKind);
  const bn = meta.get(METADATA_KEYS.batchNorm);
  const normText = meta.get(METADATA_KEYS.normalisation);
  const labelsText = meta.get(METADATA_KEYS.labels);
  const isNorm = (v: unknown): v is InputNormalisation =>
    typeof v === 'object' && v !== null && numberArray((v as InputNormalisation).mean) && numberArray((v as InputNormalisation).std);
  const norm = normText === undefined ? null : parseJson(source, METADATA_KEYS.normalisation, normText, isNorm);
  return {
    inputName: input.name ?? '',
    outputName: output.name ?? '',
    inputLayout,
    sampleShape,
    onnxInputShape: sample,
    outputShape: outDims.slice(1).map(Number),
    outputKind: kind === 'probabilities' || kind === 'values' ? kind : 'logits',
    batchNorm: bn === 'kept' || bn === 'folded' || bn === 'partly-folded' || bn === 'none' ? bn : 'kept',
    normalisation: norm === null ? null : { mean: norm.mean, std: norm.std, folded: meta.get(METADATA_KEYS.normalisationFolded) === 'true' },
    labels:
      labelsText === undefined
        ? null
        : parseJson(source, METADATA_KEYS.labels, labelsText, (v): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')),
    network: meta.get(METADATA_KEYS.network) ?? null,
    opset: Number(model.opsetImport.find((o) => (o.domain ?? '') === '')?.version ?? 0),
    irVersion: Number(model.irVersion),
    producer: model.producerName,
  };
}
