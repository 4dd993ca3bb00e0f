import { NasError, type ActivationKind, type NetworkNode, type NetworkSpec, type WeightMap, type WeightTensor } from '@mitosis/core';
import { inferShapes, parseNetworkSpec, validateWeights } from '@mitosis/ir';
import { KERAS_WEIGHT_NAMES } from './export-layers-model.js';
import { readLayersModelFiles } from './model-artifacts-io.js';

/** A Keras layer as it appears in `modelTopology` (Keras 2 / TF.js serialisation). */
interface RawLayer {
  readonly class_name: string;
  readonly config: Record<string, unknown>;
  readonly name?: string;
  readonly inbound_nodes?: unknown;
}

const ACTIVATIONS: Readonly<Record<string, ActivationKind>> = {
  relu: 'relu',
  relu6: 'relu6',
  tanh: 'tanh',
  sigmoid: 'sigmoid',
  softplus: 'softplus',
  swish: 'swish',
  silu: 'swish',
  linear: 'identity',
  'mitosis:gaussian': 'gaussian',
};

class Importer {
  readonly nodes: NetworkNode[] = [];
  readonly weights: WeightMap = new Map();
  /** Keras layer name → the mitosis node that carries its output. */
  readonly outputOf = new Map<string, string>();
  private readonly used = new Set<string>();
  /** Batch-norm layers with an explicit positive axis, checked against the inferred rank afterwards. */
  readonly bnAxes: { node: string; axis: number }[] = [];

  constructor(
    readonly file: string,
    readonly stored: WeightMap,
    readonly outputLayer: string,
  ) {}

  fail(layer: string, message: string, extra: Record<string, unknown> = {}): NasError {
    return new NasError('E_MODEL_FORMAT', `${this.file}: layer "${layer}": ${message}`, { file: this.file, layer, ...extra });
  }

  unique(name: string): string {
    let out = name;
    for (let i = 1; this.used.has(out); i++) out = `${name}_${i}`;
    this.used.add(out);
    return out;
  }

  weight(layer: string, param: string, required: boolean): WeightTensor | undefined {
    const kerasName = KERAS_WEIGHT_NAMES[param] ?? param;
    const exact = this.stored.get(`${layer}/${kerasName}`);
    if (exact !== undefined) return exact;
    // Keras/TF may prefix scopes (`model/dense/kernel`) or suffix unique ids (`dense_Dense1/kernel`).
    const candidates = [...this.stored.keys()].filter((k) => {
      const parts = k.split('/');
      return parts[parts.length - 1] === kerasName && parts.slice(0, -1).some((p) => p === layer || p.startsWith(`${layer}_`));
    });
    if (candidates.length === 1) return this.stored.get(candidates[0] as string);
    if (required) throw this.fail(layer, `weight "${layer}/${kerasName}" is not in the weights manifest`, { weight: `${layer}/${kerasName}` });
    return undefined;
  }

  add(node: NetworkNode, layer: string): void {
    this.nodes.push(node);
    this.outputOf.set(layer, node.name);
  }

  takeWeight(node: string, param: string, w: WeightTensor): void {
    this.weights.set(`${node}/${param}`, w);
  }

  activationKind(layer: string, raw: unknown, isOutput: boolean): ActivationKind | 'drop' {
    const name = typeof raw === 'string' ? raw : typeof raw === 'object' && raw !== null ? (raw as { class_name?: unknown }).class_name : undefined;
    if (typeof name !== 'string') throw this.fail(layer, `unreadable activation ${JSON.stringify(raw)}`);
    const key = name === 'mitosis:gaussian' ? name : name.toLowerCase();
    if (key === 'softmax' && isOutput) return 'drop';
    const kind = ACTIVATIONS[key];
    if (kind === undefined) {
      throw this.fail(layer, `activation "${name}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')}; softmax only on the output)`, {
        activation: name,
      });
    }
    return kind;
  }

  /** Appends a separate activation node after `node` for a fused `activation` attribute. */
  fusedActivation(layer: string, node: string, raw: unknown): void {
    const kind = raw === undefined || raw === null ? 'identity' : this.activationKind(layer, raw, layer === this.outputLayer);
    if (kind === 'identity' || kind === 'drop') return;
    const name = this.unique(`${node}_${kind}`);
    this.add({ name, op: 'activation', inputs: [node], activation: kind }, layer);
  }
}

function pair(importer: Importer, layer: string, raw: unknown, fallback: readonly [number, number] | undefined, field: string): [number, number] {
  const v = raw === undefined || raw === null ? fallback : typeof raw === 'number' ? [raw, raw] : raw;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d > 0)) {
    throw importer.fail(layer, `"${field}" must be a positive integer or a pair, got ${JSON.stringify(raw)}`, { field });
  }
  return [v[0] as number, v[1] as number];
}

function padding(importer: Importer, layer: string, raw: unknown): 'same' | 'valid' {
  const p = raw ?? 'valid';
  if (p !== 'same' && p !== 'valid') throw importer.fail(layer, `padding "${String(raw)}" is not supported (same, valid)`, { field: 'padding' });
  return p;
}

function checkChannelsLast(importer: Importer, layer: string, c: Record<string, unknown>): void {
  const df = c['data_format'];
  if (df !== undefined && df !== null && df !== 'channels_last') {
    throw importer.fail(layer, `data_format "${String(df)}" is not supported (channels_last only)`, { field: 'data_format' });
  }
  const dil = c['dilation_rate'];
  if (dil !== undefined && dil !== null && !(dil === 1 || (Array.isArray(dil) && dil.every((d) => d === 1)))) {
    throw importer.fail(layer, 'dilated convolutions are not supported', { field: 'dilation_rate' });
  }
}

function inputShapeOf(importer: Importer, layer: string, c: Record<string, unknown>): number[] | undefined {
  const raw = c['batch_input_shape'] ?? c['batch_shape'];
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.length < 2 || !raw.slice(1).every((d) => Number.isInteger(d) && d > 0)) {
    throw importer.fail(layer, `input shape ${JSON.stringify(raw)} must be fully known (except the batch axis)`, { field: 'batch_input_shape' });
  }
  return raw.slice(1) as number[];
}

/** Converts one Keras layer whose inputs (mitosis node names) are known. */
function convertLayer(importer: Importer, raw: RawLayer, inputs: string[]): void {
  const c = raw.config;
  const layer = String(c['name'] ?? raw.name);
  const cls = raw.class_name;
  const isOutput = layer === importer.outputLayer;
  const single = (): string => {
    if (inputs.length !== 1) throw importer.fail(layer, `${cls} takes one input, got ${inputs.length}`);
    return inputs[0] as string;
  };
  switch (cls) {
    case 'InputLayer': {
      const shape = inputShapeOf(importer, layer, c);
      if (shape === undefined) throw importer.fail(layer, 'InputLayer without batch_input_shape');
      importer.add({ name: importer.unique(layer), op: 'input', shape }, layer);
      return;
    }
    case 'Dense': {
      const name = importer.unique(layer);
      const units = c['units'];
      if (!Number.isInteger(units)) throw importer.fail(layer, '"units" must be an integer', { field: 'units' });
      const useBias = c['use_bias'] !== false;
      importer.add({ name, op: 'dense', inputs: [single()], units: units as number, useBias }, layer);
      importer.takeWeight(name, 'kernel', importer.weight(layer, 'kernel', true) as WeightTensor);
      if (useBias) importer.takeWeight(name, 'bias', importer.weight(layer, 'bias', true) as WeightTensor);
      importer.fusedActivation(layer, name, c['activation']);
      return;
    }
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      checkChannelsLast(importer, layer, c);
      const name = importer.unique(layer);
      const kernelSize = pair(importer, layer, c['kernel_size'], undefined, 'kernel_size');
      const strides = pair(importer, layer, c['strides'], [1, 1], 'strides');
      const pad = padding(importer, layer, c['padding']);
      const useBias = c['use_bias'] !== false;
      if (cls === 'Conv2D') {
        if ((c['groups'] ?? 1) !== 1) throw importer.fail(layer, 'grouped convolutions are not supported', { field: 'groups' });
        const filters = c['filters'];
        if (!Number.isInteger(filters)) throw importer.fail(layer, '"filters" must be an integer', { field: 'filters' });
        importer.add({ name, op: 'conv2d', inputs: [single()], filters: filters as number, kernelSize, strides, padding: pad, useBias }, layer);
        importer.takeWeight(name, 'kernel', importer.weight(layer, 'kernel', true) as WeightTensor);
      } else {
        if ((c['depth_multiplier'] ?? 1) !== 1) throw importer.fail(layer, 'depth_multiplier ≠ 1 is not supported', { field: 'depth_multiplier' });
        importer.add({ name, op: 'depthwiseConv2d', inputs: [single()], kernelSize, strides, padding: pad, useBias }, layer);
        importer.takeWeight(name, 'depthwiseKernel', importer.weight(layer, 'depthwiseKernel', true) as WeightTensor);
      }
      if (useBias) importer.takeWeight(name, 'bias', importer.weight(layer, 'bias', true) as WeightTensor);
      importer.fusedActivation(layer, name, c['activation']);
      return;
    }
    case 'BatchNormalization': {
      const name = importer.unique(layer);
      const axisRaw = Array.isArray(c['axis']) ? (c['axis'].length === 1 ? c['axis'][0] : null) : (c['axis'] ?? -1);
      if (!Number.isInteger(axisRaw)) throw importer.fail(layer, `axis ${JSON.stringify(c['axis'])} is not supported (the channel axis only)`, { field: 'axis' });
      if ((axisRaw as number) > 0) importer.bnAxes.push({ node: name, axis: axisRaw as number });
      else if (axisRaw !== -1) throw importer.fail(layer, `axis ${String(axisRaw)} is not supported (the channel axis only)`, { field: 'axis' });
      importer.add(
        { name, op: 'batchNorm', inputs: [single()], epsilon: Number(c['epsilon'] ?? 1e-3), momentum: Number(c['momentum'] ?? 0.99) },
        layer,
      );
      const mean = importer.weight(layer, 'movingMean', true) as WeightTensor;
      const ones = (v: number): WeightTensor => ({ shape: [...mean.shape], data: new Float32Array(mean.data.length).fill(v) });
      importer.takeWeight(name, 'gamma', c['scale'] === false ? ones(1) : (importer.weight(layer, 'gamma', true) as WeightTensor));
      importer.takeWeight(name, 'beta', c['center'] === false ? ones(0) : (importer.weight(layer, 'beta', true) as WeightTensor));
      importer.takeWeight(name, 'movingMean', mean);
      importer.takeWeight(name, 'movingVariance', importer.weight(layer, 'movingVariance', true) as WeightTensor);
      return;
    }
    case 'Activation':
    case 'ReLU':
    case 'Softmax': {
      let kind: ActivationKind | 'drop';
      if (cls === 'Activation') kind = importer.activationKind(layer, c['activation'], isOutput);
      else if (cls === 'Softmax') kind = isOutput ? 'drop' : importer.activationKind(layer, 'softmax', false);
      else {
        const max = c['max_value'];
        if (Number(c['negative_slope'] ?? 0) !== 0 || Number(c['threshold'] ?? 0) !== 0 || (max != null && max !== 6)) {
          throw importer.fail(layer, 'ReLU with negative_slope, threshold or max_value other than 6 is not supported');
        }
        kind = max === 6 ? 'relu6' : 'relu';
      }
      const input = single();
      // A softmax on the output is dropped: mitosis networks output logits and train with softmax cross-entropy.
      if (kind === 'drop') importer.outputOf.set(layer, input);
      else importer.add({ name: importer.unique(layer), op: 'activation', inputs: [input], activation: kind }, layer);
      return;
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      checkChannelsLast(importer, layer, c);
      const poolSize = pair(importer, layer, c['pool_size'], [2, 2], 'pool_size');
      const strides = pair(importer, layer, c['strides'], poolSize, 'strides');
      const op = cls === 'MaxPooling2D' ? 'maxPool' : 'avgPool';
      importer.add({ name: importer.unique(layer), op, inputs: [single()], poolSize, strides, padding: padding(importer, layer, c['padding']) }, layer);
      return;
    }
    case 'GlobalAveragePooling2D':
      checkChannelsLast(importer, layer, c);
      if (c['keepdims'] === true) throw importer.fail(layer, 'keepdims=true is not supported', { field: 'keepdims' });
      importer.add({ name: importer.unique(layer), op: 'globalAvgPool', inputs: [single()] }, layer);
      return;
    case 'Flatten':
      checkChannelsLast(importer, layer, c);
      importer.add({ name: importer.unique(layer), op: 'flatten', inputs: [single()] }, layer);
      return;
    case 'Add':
      importer.add({ name: importer.unique(layer), op: 'add', inputs }, layer);
      return;
    case 'Concatenate': {
      const axis = c['axis'] ?? -1;
      if (axis !== -1 && axis !== 3) throw importer.fail(layer, `concatenation along axis ${String(axis)} is not supported (channels only)`, { field: 'axis' });
      importer.add({ name: importer.unique(layer), op: 'concat', inputs }, layer);
      return;
    }
    case 'Dropout': {
      const rate = Number(c['rate']);
      if (!(rate >= 0 && rate < 1)) throw importer.fail(layer, '"rate" must be in [0, 1)', { field: 'rate' });
      importer.add({ name: importer.unique(layer), op: 'dropout', inputs: [single()], rate }, layer);
      return;
    }
    default:
      throw importer.fail(layer, `layer type "${cls}" is not supported`, { className: cls });
  }
}

/** Names of the inbound layers of a Keras 2 / TF.js functional layer (`[[[name, nodeIndex, tensorIndex, kwargs], …]]`). */
function inboundLayers(importer: Importer, layer: string, raw: unknown): string[] {
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return [];
  if (!Array.isArray(raw) || raw.length !== 1 || !Array.isArray(raw[0])) {
    const shared = Array.isArray(raw) && raw.length > 1;
    throw importer.fail(layer, shared ? 'shared layers (called more than once) are not supported' : 'inbound_nodes is not in the Keras 2 / TF.js format', {
      field: 'inbound_nodes',
    });
  }
  return (raw[0] as unknown[]).map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw importer.fail(layer, 'unreadable inbound node', { field: 'inbound_nodes' });
    if (entry[1] !== 0 || entry[2] !== 0) throw importer.fail(layer, 'shared layers / multi-output layers are not supported');
    return entry[0];
  });
}

function asLayers(importer: Importer, raw: unknown, pointer: string): RawLayer[] {
  if (!Array.isArray(raw)) throw new NasError('E_MODEL_FORMAT', `${importer.file}: ${pointer} must be an array of layers`, { file: importer.file, pointer });
  return raw.map((l, i) => {
    const layer = l as RawLayer;
    if (typeof layer?.class_name !== 'string' || typeof layer.config !== 'object' || layer.config === null) {
      throw new NasError('E_MODEL_FORMAT', `${importer.file}: ${pointer}/${i} is not a Keras layer`, { file: importer.file, pointer: `${pointer}/${i}` });
    }
    return layer;
  });
}

/**
 * Converts a parsed `model.json` + stored weights into a mitosis spec and weight map. Handles Sequential and
 * functional (`Model`/`Functional`) topologies, fused `activation` attributes (split into activation nodes named
 * `<layer>_<activation>`), residual adds and concatenations; a softmax on the output is dropped (networks output
 * logits). `source` names the file in errors.
 */
export function layersModelToSpec(modelJson: Record<string, unknown>, stored: WeightMap, source: string): { spec: NetworkSpec; weights: WeightMap } {
  let topology = modelJson['modelTopology'] as Record<string, unknown>;
  if (typeof topology['model_config'] === 'object' && topology['model_config'] !== null) topology = topology['model_config'] as Record<string, unknown>;
  const cls = topology['class_name'];
  const config = topology['config'] as Record<string, unknown> | unknown[] | undefined;
  const modelName = typeof (config as Record<string, unknown> | undefined)?.['name'] === 'string' ? ((config as Record<string, unknown>)['name'] as string) : undefined;
  let importer: Importer;
  if (cls === 'Sequential') {
    const layers = asLayers(new Importer(source, stored, ''), Array.isArray(config) ? config : config?.['layers'], '/modelTopology/config/layers');
    const visible = layers.filter((l) => l.class_name !== 'InputLayer');
    const last = visible[visible.length - 1];
    importer = new Importer(source, stored, last === undefined ? '' : String(last.config['name'] ?? last.name));
    let prev: string | undefined;
    for (const [i, layer] of layers.entries()) {
      const lname = String(layer.config['name'] ?? layer.name ?? `layer_${i}`);
      if (i === 0 && layer.class_name !== 'InputLayer') {
        const shape = inputShapeOf(importer, lname, layer.config);
        if (shape === undefined) throw importer.fail(lname, 'the first layer of a Sequential model needs batch_input_shape', { field: 'batch_input_shape' });
        const inName = importer.unique('input');
        importer.add({ name: inName, op: 'input', shape }, inName);
        prev = inName;
      }
      convertLayer(importer, { ...layer, config: { ...layer.config, name: lname } }, prev === undefined ? [] : [importer.outputOf.get(prev) as string]);
      prev = lname;
    }
    if (prev === undefined) throw new NasError('E_MODEL_FORMAT', `${source}: the Sequential model has no layers`, { file: source });
    return finish(importer, modelName, importer.outputOf.get(prev) as string);
  }
  if (cls !== 'Model' && cls !== 'Functional') {
    throw new NasError('E_MODEL_FORMAT', `${source}: model class "${String(cls)}" is not supported (Sequential, Model, Functional)`, {
      file: source,
      pointer: '/modelTopology/class_name',
    });
  }
  const c = (config ?? {}) as Record<string, unknown>;
  const outputs = c['output_layers'];
  const inputsSpec = c['input_layers'];
  if (!Array.isArray(outputs) || outputs.length !== 1 || !Array.isArray(inputsSpec) || inputsSpec.length !== 1) {
    throw new NasError('E_MODEL_FORMAT', `${source}: functional models must have exactly one input and one output layer`, {
      file: source,
      pointer: '/modelTopology/config/output_layers',
    });
  }
  const outputLayer = String((outputs[0] as unknown[])[0]);
  importer = new Importer(source, stored, outputLayer);
  const pending = asLayers(importer, c['layers'], '/modelTopology/config/layers');
  // Layers are listed in creation order, which Keras guarantees to be topological; resolve defensively anyway.
  let progress = true;
  while (pending.length > 0 && progress) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const layer = pending[i] as RawLayer;
      const lname = String(layer.config['name'] ?? layer.name);
      const inbound = inboundLayers(importer, lname, layer.inbound_nodes);
      if (!inbound.every((n) => importer.outputOf.has(n))) continue;
      convertLayer(importer, { ...layer, config: { ...layer.config, name: lname } }, inbound.map((n) => importer.outputOf.get(n) as string));
      pending.splice(i, 1);
      i--;
      progress = true;
    }
  }
  if (pending.length > 0) {
    const first = pending[0] as RawLayer;
    throw importer.fail(String(first.config['name'] ?? first.name), 'its inbound layers do not exist (or form a cycle)', { field: 'inbound_nodes' });
  }
  const out = importer.outputOf.get(outputLayer);
  if (out === undefined) throw new NasError('E_MODEL_FORMAT', `${source}: output layer "${outputLayer}" is not defined`, { file: source, layer: outputLayer });
  return finish(importer, modelName, out);
}

function finish(importer: Importer, name: string | undefined, output: string): { spec: NetworkSpec; weights: WeightMap } {
  const raw = { format: 'mitosis-network', version: 1, ...(name !== undefined ? { name } : {}), nodes: importer.nodes, output };
  let spec: NetworkSpec;
  try {
    spec = parseNetworkSpec(raw, importer.file);
    const shapes = inferShapes(spec);
    for (const { node, axis } of importer.bnAxes) {
      const n = spec.nodes.find((x) => x.name === node);
      const inShape = shapes.get(n?.inputs?.[0] ?? '') ?? [];
      if (axis !== inShape.length) throw importer.fail(node, `batch-norm axis ${axis} is not the channel axis ${inShape.length}`, { field: 'axis' });
    }
    validateWeights(spec, importer.weights, importer.file);
  } catch (error) {
    if (NasError.is(error) && error.code !== 'E_MODEL_FORMAT') {
      throw new NasError('E_MODEL_FORMAT', `${importer.file}: the model does not form a valid mitosis network: ${error.message}`, {
        file: importer.file,
        cause: error.toJSON(),
      }, { cause: error });
    }
    throw error;
  }
  return { spec, weights: importer.weights };
}

/**
 * Reads a TF.js LayersModel directory (or `model.json` path) into a mitosis spec and weights. Unsupported layers
 * or attributes throw `E_MODEL_FORMAT` with `details.{file, layer}`.
 */
export async function importLayersModel(path: string): Promise<{ spec: NetworkSpec; weights: WeightMap }> {
  const { modelJson, weights } = await readLayersModelFiles(path);
  const file = path.endsWith('.json') ? path : `${path.replace(/\/$/, '')}/model.json`;
  return layersModelToSpec(modelJson, weights, file);
}
