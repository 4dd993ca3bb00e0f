import { NasError, type NetworkNode, type NetworkSpec, type Padding } from '@mitosis/core';
import { nodeInputs, topoSort } from '../spec/parse-network-spec.js';

/**
 * TF's output length along one spatial axis: `same` → ceil(in / s); `valid` → ceil((in − k + 1) / s).
 * Returns 0 or less when a `valid` window does not fit.
 */
export function outputLength(inLength: number, kernel: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(inLength / stride) : Math.ceil((inLength - kernel + 1) / stride);
}

/**
 * TF's leading (top/left) padding along one axis for `same`: half of the total
 * max((out − 1)·s + k − in, 0), rounded down (the extra pixel goes to the bottom/right). 0 for `valid`.
 */
export function padBefore(inLength: number, kernel: number, stride: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  const out = Math.ceil(inLength / stride);
  return Math.floor(Math.max((out - 1) * stride + kernel - inLength, 0) / 2);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function shapeError(node: NetworkNode, inputShapes: readonly (readonly number[])[], why: string): NasError {
  const names = nodeInputs(node);
  const described = names.map((n, i) => `${n} ${fmt(inputShapes[i] ?? [])}`).join(', ');
  return new NasError('E_SHAPE_MISMATCH', `Node "${node.name}" (${node.op}): ${why}; inputs: ${described}`, {
    node: node.name,
    op: node.op,
    inputs: names.map((n, i) => ({ name: n, shape: [...(inputShapes[i] ?? [])] })),
  });
}

function windowed(
  node: NetworkNode,
  input: readonly number[],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  padding: Padding,
  channels: number,
): number[] {
  if (input.length !== 3) throw shapeError(node, [input], 'needs a rank-3 input [height, width, channels]');
  const h = outputLength(input[0]!, kernel[0], strides[0], padding);
  const w = outputLength(input[1]!, kernel[1], strides[1], padding);
  if (h < 1 || w < 1) {
    throw shapeError(node, [input], `window ${fmt(kernel)} with 'valid' padding does not fit the input`);
  }
  return [h, w, channels];
}

/** The output shape of one node given its inputs' shapes (no batch dimension). */
export function inferNodeShape(node: NetworkNode, ins: readonly (readonly number[])[]): number[] {
  const x = ins[0] ?? [];
  const last = x[x.length - 1] ?? 0;
  switch (node.op) {
    case 'input':
      return [...node.shape];
    case 'dense':
      if (x.length !== 1) throw shapeError(node, ins, 'dense needs a rank-1 input (add a flatten or globalAvgPool)');
      return [node.units];
    case 'conv2d':
      return windowed(node, x, node.kernelSize, node.strides, node.padding, node.filters);
    case 'depthwiseConv2d':
      return windowed(node, x, node.kernelSize, node.strides, node.padding, last);
    case 'maxPool':
    case 'avgPool':
      return windowed(node, x, node.poolSize, node.strides, node.padding, last);
    case 'globalAvgPool':
      if (x.length !== 3) throw shapeError(node, ins, 'needs a rank-3 input [height, width, channels]');
      return [last];
    case 'flatten':
      return [x.reduce((a, b) => a * b, 1)];
    case 'batchNorm':
    case 'activation':
    case 'dropout':
      return [...x];
    case 'add':
      for (const s of ins) {
        if (s.length !== x.length || s.some((d, k) => d !== x[k])) {
          throw shapeError(node, ins, 'add needs inputs of equal shapes');
        }
      }
      return [...x];
    case 'concat': {
      for (const s of ins) {
        if (s.length !== x.length || s.some((d, k) => k < x.length - 1 && d !== x[k])) {
          throw shapeError(node, ins, 'concat needs inputs that agree on every axis but the last');
        }
      }
      const out = [...x];
      out[out.length - 1] = ins.reduce((a, s) => a + (s[s.length - 1] ?? 0), 0);
      return out;
    }
  }
}

/**
 * Output shape of every node, without the batch dimension (NHWC). Throws `E_SHAPE_MISMATCH` naming the
 * node and its inputs' shapes. The spec must be semantically valid (see `parseNetworkSpec`).
 */
export function inferShapes(spec: NetworkSpec): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const node of topoSort(spec)) {
    const ins = nodeInputs(node).map((n) => shapes.get(n)!);
    shapes.set(node.name, inferNodeShape(node, ins));
  }
  return shapes;
}
