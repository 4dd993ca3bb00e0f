import { NasError, type ActivationKind, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { inferShapes, padBefore } from '../shape/infer-shapes.js';
import { nodeInputs, topoSort } from '../spec/parse-network-spec.js';

/** Options of {@link referenceForward}. */
export interface ReferenceForwardOptions {
  /** Only eval-mode BatchNorm (running statistics) is implemented. */
  readonly bnMode?: 'eval';
}

/** The scalar activation functions (gaussian is the RBF e^{−z²/2}). */
export function activate(kind: ActivationKind, z: number): number {
  switch (kind) {
    case 'relu':
      return z > 0 ? z : 0;
    case 'relu6':
      return Math.min(Math.max(z, 0), 6);
    case 'tanh':
      return Math.tanh(z);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'softplus':
      return z > 30 ? z : Math.log1p(Math.exp(z));
    case 'swish':
      return z / (1 + Math.exp(-z));
    case 'gaussian':
      return Math.exp(-0.5 * z * z);
    case 'identity':
      return z;
  }
}

function weight(weights: WeightMap, key: string): Float32Array {
  const t = weights.get(key);
  if (t === undefined) throw new NasError('E_MODEL_FORMAT', `Weights lack "${key}"`, { key });
  return t.data;
}

/**
 * A naive float64 executor of every op, for tests and as an oracle for the TF.js engine. NHWC; `input`
 * holds `batch` samples of the input node's shape, row-major; returns `batch` rows of the output node's
 * shape. BatchNorm uses its running statistics (eval mode), dropout is the identity, `same` padding
 * follows TF (extra pixel bottom/right; avgPool divides by the in-bounds count). Weights are not validated
 * beyond presence; call `validateWeights` first for a clear error.
 */
export function referenceForward(
  spec: NetworkSpec,
  weights: WeightMap,
  input: Float64Array,
  batch: number,
  options: ReferenceForwardOptions = {},
): Float64Array {
  void options;
  const shapes = inferShapes(spec);
  const values = new Map<string, Float64Array>();
  const size = (name: string) => shapes.get(name)!.reduce((a, b) => a * b, 1);
  for (const node of topoSort(spec)) {
    const ins = nodeInputs(node);
    const x = values.get(ins[0] ?? '') ?? new Float64Array(0);
    const inShape = shapes.get(ins[0] ?? '') ?? [];
    const outShape = shapes.get(node.name)!;
    const n = size(node.name);
    const out = new Float64Array(batch * n);
    const C = inShape[inShape.length - 1] ?? 0;
    switch (node.op) {
      case 'input': {
        if (input.length !== batch * n) {
          throw new NasError(
            'E_SHAPE_MISMATCH',
            `Input has ${input.length} values; ${batch} samples of [${outShape.join(', ')}] need ${batch * n}`,
            { node: node.name, expected: batch * n, actual: input.length },
          );
        }
        out.set(input);
        break;
      }
      case 'dense': {
        const k = weight(weights, `${node.name}/kernel`);
        const bias = node.useBias ? weight(weights, `${node.name}/bias`) : null;
        const U = node.units;
        for (let b = 0; b < batch; b++) {
          for (let u = 0; u < U; u++) {
            let s = bias === null ? 0 : bias[u]!;
            for (let i = 0; i < C; i++) s += x[b * C + i]! * k[i * U + u]!;
            out[b * U + u] = s;
          }
        }
        break;
      }
      case 'conv2d':
      case 'depthwiseConv2d':
      case 'maxPool':
      case 'avgPool': {
        const [H, W] = [inShape[0]!, inShape[1]!];
        const [OH, OW, OC] = [outShape[0]!, outShape[1]!, outShape[2]!];
        const [kh, kw] = 'poolSize' in node ? node.poolSize : node.kernelSize;
        const [sh, sw] = node.strides;
        const pt = padBefore(H, kh, sh, node.padding);
        const pl = padBefore(W, kw, sw, node.padding);
        const kernel =
          node.op === 'conv2d'
            ? weight(weights, `${node.name}/kernel`)
            : node.op === 'depthwiseConv2d'
              ? weight(weights, `${node.name}/depthwiseKernel`)
              : null;
        const bias =
          (node.op === 'conv2d' || node.op === 'depthwiseConv2d') && node.useBias
            ? weight(weights, `${node.name}/bias`)
            : null;
        for (let b = 0; b < batch; b++) {
          for (let oy = 0; oy < OH; oy++) {
            for (let ox = 0; ox < OW; ox++) {
              const o = ((b * OH + oy) * OW + ox) * OC;
              for (let f = 0; f < OC; f++) {
                let acc = node.op === 'maxPool' ? -Infinity : 0;
                let count = 0;
                for (let ky = 0; ky < kh; ky++) {
                  const iy = oy * sh - pt + ky;
                  if (iy < 0 || iy >= H) continue;
                  for (let kx = 0; kx < kw; kx++) {
                    const ix = ox * sw - pl + kx;
                    if (ix < 0 || ix >= W) continue;
                    const base = ((b * H + iy) * W + ix) * C;
                    count++;
                    if (node.op === 'conv2d') {
                      const kb = (ky * kw + kx) * C * OC;
                      for (let c = 0; c < C; c++) acc += x[base + c]! * kernel![kb + c * OC + f]!;
                    } else if (node.op === 'depthwiseConv2d') {
                      acc += x[base + f]! * kernel![(ky * kw + kx) * C + f]!;
                    } else if (node.op === 'maxPool') {
                      acc = Math.max(acc, x[base + f]!);
                    } else {
                      acc += x[base + f]!;
                    }
                  }
                }
                if (node.op === 'avgPool') acc /= count;
                if (bias !== null) acc += bias[f]!;
                out[o + f] = acc;
              }
            }
          }
        }
        break;
      }
      case 'globalAvgPool': {
        const P = inShape[0]! * inShape[1]!;
        for (let b = 0; b < batch; b++) {
          for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) out[b * C + c]! += x[(b * P + p) * C + c]!;
          for (let c = 0; c < C; c++) out[b * C + c]! /= P;
        }
        break;
      }
      case 'batchNorm': {
        const g = weight(weights, `${node.name}/gamma`);
        const be = weight(weights, `${node.name}/beta`);
        const mu = weight(weights, `${node.name}/movingMean`);
        const v = weight(weights, `${node.name}/movingVariance`);
        for (let i = 0; i < out.length; i++) {
          const c = i % C;
          out[i] = (g[c]! * (x[i]! - mu[c]!)) / Math.sqrt(v[c]! + node.epsilon) + be[c]!;
        }
        break;
      }
      case 'activation':
        for (let i = 0; i < out.length; i++) out[i] = activate(node.activation, x[i]!);
        break;
      case 'flatten':
      case 'dropout':
        out.set(x);
        break;
      case 'add':
        for (const name of ins) {
          const y = values.get(name)!;
          for (let i = 0; i < out.length; i++) out[i]! += y[i]!;
        }
        break;
      case 'concat': {
        const OC = outShape[outShape.length - 1]!;
        const positions = n / OC;
        let offset = 0;
        for (const name of ins) {
          const s = shapes.get(name)!;
          const c = s[s.length - 1]!;
          const y = values.get(name)!;
          for (let q = 0; q < batch * positions; q++) {
            for (let k = 0; k < c; k++) out[q * OC + offset + k] = y[q * c + k]!;
          }
          offset += c;
        }
        break;
      }
    }
    values.set(node.name, out);
  }
  return values.get(spec.output)!;
}
