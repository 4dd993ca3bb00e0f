import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NasError, type ActivationKind, type NetworkNode, type NetworkSpec, type Padding, type WeightMap, type WeightTensor } from '@mitosis/core';
import { inferShapes, nodeInputs, outputLength, padBefore, parseNetworkSpec, readersOf, topoSort, validateWeights } from '@mitosis/ir';
import { floatValueInfo, onnx, OnnxGraphBuilder } from './onnx-graph.js';
import {
  describeModel,
  METADATA_KEYS,
  ONNX_INPUT,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  ONNX_OUTPUT,
  type InputNormalisation,
  type OnnxInputLayout,
  type OnnxModelInfo,
  type OnnxOutputKind,
} from './onnx-model-info.js';

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /**
   * Fold every batch norm into the conv2d, depthwiseConv2d or dense node it reads, when that node has no other
   * reader: the kernel is scaled by γ/√(σ²+ε) per output channel and the bias becomes β + (b − μ)·γ/√(σ²+ε).
   * Batch norms that cannot be folded (after an add, a pool, the input) stay `BatchNormalization` nodes.
   * Default `false`: every batch norm is a `BatchNormalization` node with the moving statistics.
   */
  readonly foldBatchNorm?: boolean;
  /**
   * Layout of an image input (`[height, width, channels]` samples): `nhwc` (default) takes the same tensor as the
   * TF.js model and transposes it to NCHW as the graph's first op; `nchw` takes `[batch, channels, height, width]`
   * (what most ONNX toolchains expect) and needs no transpose. Flat inputs (`[features]`) are unaffected.
   */
  readonly inputLayout?: OnnxInputLayout;
  /** The per-channel input normalisation the model was trained with (a model folder's `normalisation.json`). */
  readonly normalisation?: InputNormalisation | null;
  /**
   * With {@link normalisation}: `true` (default) puts `(x − mean) / std` into the graph, so the model takes raw
   * inputs; `false` only records the statistics in the metadata and the caller normalises.
   */
  readonly foldNormalisation?: boolean;
  /** Append a softmax over the last axis: the output is class probabilities instead of logits. Default false. */
  readonly softmax?: boolean;
  /** What the network's output means: classification logits (default) or regression values. */
  readonly task?: 'classification' | 'regression';
  /** Class names, in output order (recorded in the metadata). */
  readonly labels?: readonly string[];
  /** Extra `metadata_props` (e.g. the run or search space that produced the model). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Names the spec in error messages; default the spec's name. */
  readonly source?: string;
}

/** The encoded model and what it takes and returns. */
export interface OnnxExport {
  /** The serialised `ModelProto`. */
  readonly bytes: Uint8Array;
  readonly info: OnnxModelInfo;
}

/** A value in the graph: its tensor name and whether its (rank-4) layout is NCHW. */
interface Value {
  readonly name: string;
  readonly nchw: boolean;
}

/** Per-channel affine `y = x·scale + shift` of an inference-mode batch norm, in float64. */
function batchNormAffine(node: NetworkNode & { op: 'batchNorm' }, weights: WeightMap): { scale: Float64Array; shift: Float64Array } {
  const get = (p: string): Float32Array => (weights.get(`${node.name}/${p}`) as WeightTensor).data;
  const gamma = get('gamma');
  const beta = get('beta');
  const mean = get('movingMean');
  const variance = get('movingVariance');
  const scale = new Float64Array(gamma.length);
  const shift = new Float64Array(gamma.length);
  for (let c = 0; c < gamma.length; c++) {
    scale[c] = (gamma[c] as number) / Math.sqrt((variance[c] as number) + node.epsilon);
    shift[c] = (beta[c] as number) - (mean[c] as number) * (scale[c] as number);
  }
  return { scale, shift };
}

/** `[kh, kw, in, out]` (TF.js) → `[out, in, kh, kw]` (ONNX), each output channel scaled by `scale[o]` when given. */
function convKernel(w: WeightTensor, scale: Float64Array | null): { shape: number[]; data: Float32Array } {
  const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
  const data = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          const v = w.data[((y * kw + x) * cin + i) * cout + o] as number;
          data[((o * cin + i) * kh + y) * kw + x] = scale === null ? v : v * (scale[o] as number);
        }
      }
    }
  }
  return { shape: [cout, cin, kh, kw], data };
}

/** `[kh, kw, C, 1]` (TF.js depthwise) → `[C, 1, kh, kw]` (ONNX grouped conv, group = C). */
function depthwiseKernel(w: WeightTensor, scale: Float64Array | null): { shape: number[]; data: Float32Array } {
  const [kh, kw, c] = w.shape as [number, number, number, number];
  const data = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let ch = 0; ch < c; ch++) {
        const v = w.data[(y * kw + x) * c + ch] as number;
        data[(ch * kh + y) * kw + x] = scale === null ? v : v * (scale[ch] as number);
      }
    }
  }
  return { shape: [c, 1, kh, kw], data };
}

/** Dense `[in, units]`, each unit's column scaled by `scale[u]` when given (Gemm takes the same layout). */
function denseKernel(w: WeightTensor, scale: Float64Array | null): { shape: number[]; data: Float32Array } {
  const [, units] = w.shape as [number, number];
  if (scale === null) return { shape: [...w.shape], data: Float32Array.from(w.data) };
  const data = new Float32Array(w.data.length);
  for (let i = 0; i < w.data.length; i++) data[i] = (w.data[i] as number) * (scale[i % units] as number);
  return { shape: [...w.shape], data };
}

/** The folded bias `b·scale + shift` (b = 0 without a bias), or the bias itself. */
function foldedBias(bias: WeightTensor | undefined, channels: number, affine: { scale: Float64Array; shift: Float64Array } | null): Float32Array | null {
  if (affine === null) return bias === undefined ? null : Float32Array.from(bias.data);
  const out = new Float32Array(channels);
  for (let c = 0; c < channels; c++) out[c] = ((bias?.data[c] as number | undefined) ?? 0) * (affine.scale[c] as number) + (affine.shift[c] as number);
  return out;
}

/** ONNX `pads` `[top, left, bottom, right]` reproducing TF's `same`/`valid` padding (the odd pixel at the end). */
function tfPads(inHW: readonly number[], kernel: readonly [number, number], strides: readonly [number, number], padding: Padding): number[] {
  const begin: number[] = [];
  const end: number[] = [];
  for (let a = 0; a < 2; a++) {
    const len = inHW[a] as number;
    if (padding === 'valid') {
      begin.push(0);
      end.push(0);
      continue;
    }
    const out = outputLength(len, kernel[a] as number, strides[a] as number, padding);
    const total = Math.max((out - 1) * (strides[a] as number) + (kernel[a] as number) - len, 0);
    const before = padBefore(len, kernel[a] as number, strides[a] as number, padding);
    begin.push(before);
    end.push(total - before);
  }
  return [...begin, ...end];
}

function unsupported(node: NetworkNode, why: string): NasError {
  return new NasError('E_MODEL_FORMAT', `Node "${node.name}" (${node.op}) cannot be exported to ONNX: ${why}`, { node: node.name, op: node.op });
}

function checkNormalisation(norm: InputNormalisation, channels: number): void {
  const ok = (v: readonly number[]): boolean => v.length === channels && v.every((x) => Number.isFinite(x));
  if (!ok(norm.mean) || !ok(norm.std)) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `The input normalisation has ${norm.mean.length} means and ${norm.std.length} standard deviations (all finite numbers needed) but the input has ${channels} channels`,
      { channels, mean: norm.mean.length, std: norm.std.length },
    );
  }
}

/** The mitosis version written as `producer_version`. */
const PRODUCER_VERSION = '0.1.0';

/** Standard deviations below this divide by 1, as `normalise` in `@mitosis/data` does. */
const MIN_STD = 1e-8;

/**
 * Converts a mitosis network (spec + weights, TF.js layouts) to an ONNX model (opset {@link ONNX_OPSET}, IR
 * version {@link ONNX_IR_VERSION}, producer "mitosis") built with the `onnx-proto` classes. The graph has one input
 * `input` (`[batch, …]`, batch symbolic) and one output `output`; what they hold is recorded in `metadata_props`
 * (see {@link METADATA_KEYS}). Internally image tensors are NCHW: convolutions and pools run natively, a flatten
 * first transposes back to NHWC so that the following dense kernel sees features in the TF.js order, and an image
 * output is transposed back to NHWC. Every op of the IR is supported: dense (Gemm), conv2d and depthwiseConv2d
 * (Conv, group = channels for depthwise, TF `same` padding as explicit asymmetric pads), batchNorm
 * (BatchNormalization, or folded), every activation (relu, relu6 = Clip, tanh, sigmoid, softplus,
 * swish = x·Sigmoid(x), gaussian = Exp(−x²/2), identity), max/avg pooling (TF's `same` average excludes the
 * padding: `count_include_pad = 0`), globalAvgPool, flatten, add (Add/Sum), concat, and dropout (inference: none).
 *
 * Throws `E_SPEC_INVALID`/`E_SHAPE_MISMATCH` for an invalid spec, `E_MODEL_FORMAT` for weights that do not fit it.
 */
export function exportOnnx(spec: NetworkSpec, weights: WeightMap, options: OnnxExportOptions = {}): OnnxExport {
  const source = options.source ?? spec.name ?? 'network';
  const parsed = parseNetworkSpec(spec, source);
  validateWeights(parsed, weights, source);
  const shapes = inferShapes(parsed);
  const nodes = topoSort(parsed);
  const byName = new Map(parsed.nodes.map((n) => [n.name, n]));
  const readers = readersOf(parsed);
  const layout = options.inputLayout ?? 'nhwc';
  const foldBn = options.foldBatchNorm === true;
  const norm = options.normalisation ?? null;
  const foldNorm = norm !== null && options.foldNormalisation !== false;
  const task = options.task ?? 'classification';
  if (options.softmax === true && task === 'regression') {
    throw new NasError('E_USAGE', 'A softmax output makes no sense for a regression network (its outputs are values, not logits)', { task });
  }

  // Batch norms folded into the node they read: producer name → batch-norm node.
  const foldInto = new Map<string, NetworkNode & { op: 'batchNorm' }>();
  if (foldBn) {
    for (const node of nodes) {
      if (node.op !== 'batchNorm') continue;
      const producer = byName.get(node.inputs[0] as string);
      const foldable = producer !== undefined && (producer.op === 'conv2d' || producer.op === 'depthwiseConv2d' || producer.op === 'dense');
      if (foldable && producer.name !== parsed.output && (readers.get(producer.name) ?? []).length === 1) foldInto.set(producer.name, node);
    }
  }
  const foldedBns = new Set([...foldInto.values()].map((b) => b.name));
  const hasBn = nodes.some((n) => n.op === 'batchNorm');

  const g = new OnnxGraphBuilder([ONNX_INPUT, ONNX_OUTPUT]);
  const values = new Map<string, Value>();
  const w = (node: string, param: string): WeightTensor | undefined => weights.get(`${node}/${param}`);
  const inputNode = nodes.find((n) => n.op === 'input');
  if (inputNode?.op !== 'input') throw new NasError('E_SPEC_INVALID', `${source}: the network has no input node`, {});
  const sampleShape = [...inputNode.shape];
  const image = sampleShape.length === 3;
  const channels = sampleShape[sampleShape.length - 1] ?? 1;
  const onnxInputShape = image && layout === 'nchw' ? [sampleShape[2] as number, sampleShape[0] as number, sampleShape[1] as number] : sampleShape;

  const valueOf = (name: string): Value => values.get(name) as Value;
  /** NCHW → NHWC for a rank-4 value; anything else as is. */
  const channelsLast = (v: Value, base: string): string => (v.nchw ? g.op('Transpose', [v.name], base, { perm: [0, 2, 3, 1] }) : v.name);

  for (const node of nodes) {
    if (foldedBns.has(node.name)) {
      // Its producer already emitted the folded value (named after this batch norm): pass it on.
      values.set(node.name, valueOf(nodeInputs(node)[0] as string));
      continue;
    }
    if (node.op === 'input') {
      let name = ONNX_INPUT;
      if (norm !== null) checkNormalisation(norm, channels);
      if (foldNorm && norm !== null) {
        // Constants broadcast over the channel axis of the input as fed: last for NHWC/flat, axis 1 for NCHW.
        const cshape = image && layout === 'nchw' ? [channels, 1, 1] : [channels];
        const mean = g.floatTensor('normalisation/mean', cshape, Float32Array.from(norm.mean));
        const inv = g.floatTensor('normalisation/inv_std', cshape, Float32Array.from(norm.std, (s) => (s < MIN_STD ? 1 : 1 / s)));
        name = g.op('Mul', [g.op('Sub', [name, mean], 'normalisation/centred'), inv], 'normalisation/scaled');
      }
      if (image && layout === 'nhwc') name = g.op('Transpose', [name], `${node.name}/nchw`, { perm: [0, 3, 1, 2] });
      values.set(node.name, { name, nchw: image });
      continue;
    }
    const ins = nodeInputs(node).map(valueOf);
    const x = ins[0] as Value;
    const inShape = shapes.get(nodeInputs(node)[0] as string) ?? [];
    switch (node.op) {
      case 'conv2d':
      case 'depthwiseConv2d': {
        if (!x.nchw) throw unsupported(node, 'needs an image input');
        const bn = foldInto.get(node.name);
        const affine = bn === undefined ? null : batchNormAffine(bn, weights);
        const depthwise = node.op === 'depthwiseConv2d';
        const kernel = depthwise
          ? depthwiseKernel(w(node.name, 'depthwiseKernel') as WeightTensor, affine?.scale ?? null)
          : convKernel(w(node.name, 'kernel') as WeightTensor, affine?.scale ?? null);
        const outC = kernel.shape[0] as number;
        const bias = foldedBias(node.useBias ? w(node.name, 'bias') : undefined, outC, affine);
        const inputs = [x.name, g.floatTensor(`${node.name}/W`, kernel.shape, kernel.data)];
        if (bias !== null) inputs.push(g.floatTensor(`${node.name}/B`, [outC], bias));
        const name = g.op('Conv', inputs, bn?.name ?? node.name, {
          kernel_shape: [...node.kernelSize],
          strides: [...node.strides],
          pads: tfPads(inShape, node.kernelSize, node.strides, node.padding),
          dilations: [1, 1],
          group: depthwise ? outC : 1,
        });
        values.set(node.name, { name, nchw: true });
        break;
      }
      case 'dense': {
        if (inShape.length !== 1) throw unsupported(node, `needs a rank-1 input, got [${inShape.join(', ')}]`);
        const bn = foldInto.get(node.name);
        const affine = bn === undefined ? null : batchNormAffine(bn, weights);
        const kernel = denseKernel(w(node.name, 'kernel') as WeightTensor, affine?.scale ?? null);
        const bias = foldedBias(node.useBias ? w(node.name, 'bias') : undefined, node.units, affine);
        const inputs = [x.name, g.floatTensor(`${node.name}/W`, kernel.shape, kernel.data)];
        if (bias !== null) inputs.push(g.floatTensor(`${node.name}/B`, [node.units], bias));
        values.set(node.name, { name: g.op('Gemm', inputs, bn?.name ?? node.name), nchw: false });
        break;
      }
      case 'batchNorm': {
        const c = inShape[inShape.length - 1] as number;
        const param = (p: string): Float32Array => (w(node.name, p) as WeightTensor).data;
        if (x.nchw || inShape.length === 1) {
          const inputs = [x.name, ...['gamma', 'beta', 'movingMean', 'movingVariance'].map((p) => g.floatTensor(`${node.name}/${p}`, [c], param(p)))];
          values.set(node.name, { name: g.op('BatchNormalization', inputs, node.name, { epsilon: { float: node.epsilon } }), nchw: x.nchw });
        } else {
          // Channels last at a rank BatchNormalization cannot take (channel axis 1): the same affine map, broadcast.
          const { scale, shift } = batchNormAffine(node, weights);
          const mul = g.op('Mul', [x.name, g.floatTensor(`${node.name}/scale`, [c], Float32Array.from(scale))], `${node.name}/scaled`);
          values.set(node.name, { name: g.op('Add', [mul, g.floatTensor(`${node.name}/shift`, [c], Float32Array.from(shift))], node.name), nchw: false });
        }
        break;
      }
      case 'activation':
        values.set(node.name, { name: activation(g, node.activation, x.name, node.name), nchw: x.nchw });
        break;
      case 'maxPool':
      case 'avgPool': {
        if (!x.nchw) throw unsupported(node, 'needs an image input');
        const attrs = {
          kernel_shape: [...node.poolSize],
          strides: [...node.strides],
          pads: tfPads(inShape, node.poolSize, node.strides, node.padding),
          ...(node.op === 'avgPool' ? { count_include_pad: 0 } : {}),
        };
        values.set(node.name, { name: g.op(node.op === 'maxPool' ? 'MaxPool' : 'AveragePool', [x.name], node.name, attrs), nchw: true });
        break;
      }
      case 'globalAvgPool': {
        if (!x.nchw) throw unsupported(node, 'needs an image input');
        const pooled = g.op('GlobalAveragePool', [x.name], `${node.name}/nc11`);
        values.set(node.name, { name: g.op('Flatten', [pooled], node.name, { axis: 1 }), nchw: false });
        break;
      }
      case 'flatten':
        // TF.js flattens NHWC row-major: transpose an NCHW value back first so the dense kernel's rows line up.
        values.set(node.name, { name: g.op('Flatten', [channelsLast(x, `${node.name}/nhwc`)], node.name, { axis: 1 }), nchw: false });
        break;
      case 'add':
        if (ins.length === 1) values.set(node.name, x);
        else values.set(node.name, { name: g.op(ins.length === 2 ? 'Add' : 'Sum', ins.map((v) => v.name), node.name), nchw: x.nchw });
        break;
      case 'concat':
        if (ins.length === 1) values.set(node.name, x);
        else values.set(node.name, { name: g.op('Concat', ins.map((v) => v.name), node.name, { axis: x.nchw ? 1 : inShape.length }), nchw: x.nchw });
        break;
      case 'dropout':
        // Inference: dropout is the identity.
        values.set(node.name, x);
        break;
    }
  }

  const out = valueOf(parsed.output);
  const outShape = shapes.get(parsed.output) ?? [];
  let last = channelsLast(out, `${parsed.output}/nhwc`);
  if (options.softmax === true) last = g.op('Softmax', [last], 'probabilities', { axis: -1 });
  g.opTo(ONNX_OUTPUT, 'Identity', [last]);

  const outputKind: OnnxOutputKind = options.softmax === true ? 'probabilities' : task === 'regression' ? 'values' : 'logits';
  const info: OnnxModelInfo = {
    inputName: ONNX_INPUT,
    outputName: ONNX_OUTPUT,
    inputLayout: image ? (layout === 'nchw' ? 'NCHW' : 'NHWC') : 'NC',
    sampleShape,
    onnxInputShape,
    outputShape: [...outShape],
    outputKind,
    batchNorm: !hasBn ? 'none' : foldBn ? (foldedBns.size === nodes.filter((n) => n.op === 'batchNorm').length ? 'folded' : 'partly-folded') : 'kept',
    normalisation: norm === null ? null : { mean: [...norm.mean], std: [...norm.std], folded: foldNorm },
    labels: options.labels === undefined ? null : [...options.labels],
    network: parsed.name ?? null,
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producer: 'mitosis',
  };
  const metadata: Record<string, string> = {
    ...(options.metadata ?? {}),
    [METADATA_KEYS.inputLayout]: info.inputLayout,
    [METADATA_KEYS.sampleShape]: JSON.stringify(info.sampleShape),
    [METADATA_KEYS.outputKind]: info.outputKind,
    [METADATA_KEYS.softmax]: String(options.softmax === true),
    [METADATA_KEYS.batchNorm]: info.batchNorm,
  };
  if (info.normalisation !== null) {
    metadata[METADATA_KEYS.normalisation] = JSON.stringify({ mean: info.normalisation.mean, std: info.normalisation.std });
    metadata[METADATA_KEYS.normalisationFolded] = String(info.normalisation.folded);
  }
  if (info.labels !== null) metadata[METADATA_KEYS.labels] = JSON.stringify(info.labels);
  if (info.network !== null) metadata[METADATA_KEYS.network] = info.network;

  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'mitosis',
    producerVersion: PRODUCER_VERSION,
    domain: 'ai.mitosis',
    modelVersion: 1,
    docString: describeModel(info),
    graph: {
      name: parsed.name ?? 'mitosis',
      node: g.nodes,
      initializer: g.initializers,
      input: [floatValueInfo(ONNX_INPUT, ['batch', ...onnxInputShape])],
      output: [floatValueInfo(ONNX_OUTPUT, ['batch', ...outShape])],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), info };
}


/** Emits one activation of `x` and returns its output tensor's name. */
function activation(g: OnnxGraphBuilder, kind: ActivationKind, x: string, name: string): string {
  switch (kind) {
    case 'relu':
      return g.op('Relu', [x], name);
    case 'relu6':
      return g.op('Clip', [x, g.scalar(`${name}/min`, 0), g.scalar(`${name}/max`, 6)], name);
    case 'tanh':
      return g.op('Tanh', [x], name);
    case 'sigmoid':
      return g.op('Sigmoid', [x], name);
    case 'softplus':
      return g.op('Softplus', [x], name);
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x], `${name}/sigmoid`)], name);
    case 'gaussian': {
      const square = g.op('Mul', [x, x], `${name}/square`);
      return g.op('Exp', [g.op('Mul', [square, g.scalar(`${name}/minus_half`, -0.5)], `${name}/exponent`)], name);
    }
    case 'identity':
      return g.op('Identity', [x], name);
  }
}

/**
 * Writes {@link exportOnnx}'s model to `file` atomically (a sibling temporary file renamed into place, so a crash
 * never leaves half a model) and returns what it wrote.
 */
export async function writeOnnxFile(file: string, spec: NetworkSpec, weights: WeightMap, options: OnnxExportOptions = {}): Promise<OnnxExport> {
  const result = exportOnnx(spec, weights, options);
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${Date.now()}`);
  try {
    await writeFile(tmp, result.bytes);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return result;
}
