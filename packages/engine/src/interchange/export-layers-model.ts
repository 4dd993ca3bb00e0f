import { NasError, type ActivationKind, type NetworkNode, type NetworkSpec, type WeightMap, type WeightTensor } from '@mitosis/core';
import { topoSort, validateWeights } from '@mitosis/ir';
import { packWeights, writeDirectoryAtomically, writeLayersModelFiles } from './model-artifacts-io.js';

/** Keras names of mitosis weight parameters. */
export const KERAS_WEIGHT_NAMES: Readonly<Record<string, string>> = {
  kernel: 'kernel',
  bias: 'bias',
  depthwiseKernel: 'depthwise_kernel',
  gamma: 'gamma',
  beta: 'beta',
  movingMean: 'moving_mean',
  movingVariance: 'moving_variance',
};

/** Keras/TF.js activation identifiers; `gaussian` has none. */
const KERAS_ACTIVATIONS: Readonly<Record<ActivationKind, string | undefined>> = {
  relu: 'relu',
  relu6: 'relu6',
  tanh: 'tanh',
  sigmoid: 'sigmoid',
  softplus: 'softplus',
  swish: 'swish',
  identity: 'linear',
  gaussian: undefined,
};

/** Options of {@link exportLayersModel}. */
export interface ExportOptions {
  /**
   * Write activations that Keras/TF.js lack (`gaussian`) as `Activation` layers with a mitosis-only name instead
   * of failing. Such a model re-imports into mitosis but does not load in TF.js. Used by checkpoints.
   */
  readonly allowMitosisActivations?: boolean;
}

type KerasLayer = { class_name: string; config: Record<string, unknown>; name: string; inbound_nodes: unknown[] };

function layerConfig(node: NetworkNode, options: ExportOptions): { className: string; config: Record<string, unknown> } {
  const base = { name: node.name, trainable: true, dtype: 'float32' };
  switch (node.op) {
    case 'input':
      return { className: 'InputLayer', config: { batch_input_shape: [null, ...node.shape], dtype: 'float32', sparse: false, name: node.name } };
    case 'dense':
      return { className: 'Dense', config: { ...base, units: node.units, activation: 'linear', use_bias: node.useBias } };
    case 'conv2d':
      return {
        className: 'Conv2D',
        config: {
          ...base,
          filters: node.filters,
          kernel_size: [...node.kernelSize],
          strides: [...node.strides],
          padding: node.padding,
          data_format: 'channels_last',
          dilation_rate: [1, 1],
          activation: 'linear',
          use_bias: node.useBias,
        },
      };
    case 'depthwiseConv2d':
      return {
        className: 'DepthwiseConv2D',
        config: {
          ...base,
          kernel_size: [...node.kernelSize],
          strides: [...node.strides],
          padding: node.padding,
          depth_multiplier: 1,
          data_format: 'channels_last',
          dilation_rate: [1, 1],
          activation: 'linear',
          use_bias: node.useBias,
        },
      };
    case 'batchNorm':
      return { className: 'BatchNormalization', config: { ...base, axis: -1, momentum: node.momentum, epsilon: node.epsilon, center: true, scale: true } };
    case 'activation': {
      const keras = KERAS_ACTIVATIONS[node.activation] ?? (options.allowMitosisActivations ? `mitosis:${node.activation}` : undefined);
      if (keras === undefined) {
        throw new NasError(
          'E_MODEL_FORMAT',
          `Node "${node.name}": activation "${node.activation}" has no Keras/TF.js equivalent, so the network cannot be ` +
            `exported as a LayersModel; save a checkpoint (spec + weights) instead`,
          { node: node.name, activation: node.activation },
        );
      }
      return { className: 'Activation', config: { ...base, activation: keras } };
    }
    case 'maxPool':
    case 'avgPool':
      return {
        className: node.op === 'maxPool' ? 'MaxPooling2D' : 'AveragePooling2D',
        config: { ...base, pool_size: [...node.poolSize], strides: [...node.strides], padding: node.padding, data_format: 'channels_last' },
      };
    case 'globalAvgPool':
      return { className: 'GlobalAveragePooling2D', config: { ...base, data_format: 'channels_last' } };
    case 'flatten':
      return { className: 'Flatten', config: { ...base, data_format: 'channels_last' } };
    case 'add':
      return { className: 'Add', config: base };
    case 'concat':
      return { className: 'Concatenate', config: { ...base, axis: -1 } };
    case 'dropout':
      return { className: 'Dropout', config: { ...base, rate: node.rate } };
  }
}

/**
 * The `model.json` object (Keras functional `Model` topology + weights manifest) and the weight bytes of a
 * network. Weight `<node>/<param>` is stored as `<node>/<keras_param>` (`bn1/moving_mean`).
 */
export function buildLayersModel(
  spec: NetworkSpec,
  weights: WeightMap,
  options: ExportOptions = {},
): { modelJson: Record<string, unknown>; weightData: Uint8Array } {
  validateWeights(spec, weights, spec.name ?? 'network');
  const nodes = topoSort(spec);
  const input = nodes.find((n) => n.op === 'input');
  if (input === undefined) throw new NasError('E_SPEC_INVALID', 'The network has no input node', {});
  const layers: KerasLayer[] = [];
  const named: [string, WeightTensor][] = [];
  for (const node of nodes) {
    const { className, config } = layerConfig(node, options);
    const inputs = node.op === 'input' ? [] : node.inputs;
    layers.push({
      class_name: className,
      config,
      name: node.name,
      inbound_nodes: inputs.length === 0 ? [] : [inputs.map((name) => [name, 0, 0, {}])],
    });
    for (const [param, kerasName] of Object.entries(KERAS_WEIGHT_NAMES)) {
      const w = weights.get(`${node.name}/${param}`);
      if (w !== undefined) named.push([`${node.name}/${kerasName}`, w]);
    }
  }
  const { specs, data } = packWeights(named);
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'mitosis',
    convertedBy: null,
    modelTopology: {
      class_name: 'Model',
      config: {
        name: spec.name ?? 'mitosis',
        layers,
        input_layers: [[input.name, 0, 0]],
        output_layers: [[spec.output, 0, 0]],
      },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  };
  return { modelJson, weightData: data };
}

/**
 * Writes `spec` + `weights` to `dir` as a TF.js LayersModel (`model.json` + `weights.bin`), atomically: the
 * directory is built under a temporary name and renamed into place. Throws `E_MODEL_FORMAT` for activations
 * without a Keras equivalent (`gaussian`) unless {@link ExportOptions.allowMitosisActivations} is set.
 */
export async function exportLayersModel(dir: string, spec: NetworkSpec, weights: WeightMap, options: ExportOptions = {}): Promise<void> {
  const { modelJson, weightData } = buildLayersModel(spec, weights, options);
  await writeDirectoryAtomically(dir, (tmp) => writeLayersModelFiles(tmp, modelJson, weightData));
}
