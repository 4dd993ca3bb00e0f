import { NasError, type NetworkNode, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { nodesByName } from '../spec/graph-util.js';
import { weightShapes } from './weights.js';

interface NeuronLayout {
  readonly node: NetworkNode & { op: 'dense' | 'conv2d' | 'depthwiseConv2d' };
  readonly kernelKey: string;
  /** Elements of θ from the kernel (kh·kw·in, or kh·kw for depthwise). */
  readonly fanIn: number;
  /** Output channels of the kernel's last axis (the neuron count). */
  readonly outChannels: number;
  readonly hasBias: boolean;
}

function layout(spec: NetworkSpec, name: string, shapes = weightShapes(spec)): NeuronLayout {
  const node = nodesByName(spec).get(name);
  if (node === undefined) {
    throw new NasError('E_SPEC_INVALID', `No node "${name}" in the network`, { node: name });
  }
  if (node.op !== 'dense' && node.op !== 'conv2d' && node.op !== 'depthwiseConv2d') {
    throw new NasError('E_SPEC_INVALID', `Node "${name}" (${node.op}) has no neurons; use dense, conv2d or depthwiseConv2d`, {
      node: name,
    });
  }
  const kernelKey = `${name}/${node.op === 'depthwiseConv2d' ? 'depthwiseKernel' : 'kernel'}`;
  const shape = shapes.get(kernelKey)!;
  if (node.op === 'depthwiseConv2d') {
    return { node, kernelKey, fanIn: shape[0]! * shape[1]!, outChannels: shape[2]!, hasBias: node.useBias };
  }
  const outChannels = shape[shape.length - 1]!;
  const total = shape.reduce((a, b) => a * b, 1);
  return { node, kernelKey, fanIn: total / outChannels, outChannels, hasBias: node.useBias };
}

/**
 * Length of a neuron's parameter vector θ (growth-plan.ts): its incoming weights (dense: in; conv2d:
 * kh·kw·in; depthwiseConv2d: kh·kw) plus 1 when the layer has a bias.
 */
export function neuronDim(spec: NetworkSpec, node: string): number {
  const l = layout(spec, node);
  return l.fanIn + (l.hasBias ? 1 : 0);
}

/** Number of neurons (output channels) of a dense, conv2d or depthwiseConv2d node. */
export function neuronCount(spec: NetworkSpec, node: string): number {
  return layout(spec, node).outChannels;
}

function check(l: NeuronLayout, weights: WeightMap, j: number): Float32Array {
  if (!Number.isInteger(j) || j < 0 || j >= l.outChannels) {
    throw new NasError('E_SPEC_INVALID', `Neuron ${j} of "${l.node.name}" is out of range [0, ${l.outChannels})`, {
      node: l.node.name,
      neuron: j,
    });
  }
  const kernel = weights.get(l.kernelKey);
  if (kernel === undefined) {
    throw new NasError('E_MODEL_FORMAT', `Weights lack "${l.kernelKey}"`, { key: l.kernelKey });
  }
  return kernel.data;
}

/**
 * θ of neuron `j` of `node`: the kernel column for output channel j in row-major order of the kernel
 * without its output axis (depthwise: the [kh, kw] slice of channel j), then the bias when present.
 */
export function getNeuronParams(spec: NetworkSpec, weights: WeightMap, node: string, j: number): Float64Array {
  const l = layout(spec, node);
  const k = check(l, weights, j);
  const theta = new Float64Array(l.fanIn + (l.hasBias ? 1 : 0));
  const stride = l.outChannels;
  for (let r = 0; r < l.fanIn; r++) theta[r] = k[r * stride + j]!;
  if (l.hasBias) theta[l.fanIn] = weights.get(`${node}/bias`)!.data[j]!;
  return theta;
}

/**
 * Writes θ of neuron `j` of `node` in place into `weights`' tensors (same layout as
 * {@link getNeuronParams}). `theta.length` must equal {@link neuronDim}.
 */
export function setNeuronParams(
  spec: NetworkSpec,
  weights: WeightMap,
  node: string,
  j: number,
  theta: ArrayLike<number>,
): void {
  const l = layout(spec, node);
  const k = check(l, weights, j);
  const dim = l.fanIn + (l.hasBias ? 1 : 0);
  if (theta.length !== dim) {
    throw new NasError('E_SPEC_INVALID', `θ for "${node}" has ${theta.length} values, needs ${dim}`, {
      node,
      expected: dim,
      actual: theta.length,
    });
  }
  const stride = l.outChannels;
  for (let r = 0; r < l.fanIn; r++) k[r * stride + j] = theta[r]!;
  if (l.hasBias) weights.get(`${node}/bias`)!.data[j] = theta[l.fanIn]!;
}
