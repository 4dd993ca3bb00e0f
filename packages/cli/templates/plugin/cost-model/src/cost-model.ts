import { injectable } from '@mitosis/core/di';
import {
  NasError,
  type CostEstimate,
  type CostModel,
  type CostModelContribution,
  type JSONSchemaType,
  type LayerCost,
  type NetworkNode,
  type NetworkSpec,
  type Padding,
} from '@mitosis/core';

/** Options of the cost model; the schema below gives their defaults. */
export interface ThroughputOptions {
  /** Multiply-accumulates the device completes per millisecond (1e6: one GMAC/s). */
  readonly macsPerMs: number;
  /** Fixed cost of launching one compute layer, in milliseconds. */
  readonly overheadMs: number;
}

const optionsSchema: JSONSchemaType<ThroughputOptions> = {
  type: 'object',
  properties: {
    macsPerMs: { type: 'number', exclusiveMinimum: 0, default: 1e6 },
    overheadMs: { type: 'number', minimum: 0, default: 0.001 },
  },
  required: ['macsPerMs', 'overheadMs'],
  additionalProperties: false,
};

/** Output size of one spatial axis of a convolution or pooling window. */
function outputSize(size: number, kernel: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.max(0, Math.floor((size - kernel) / stride) + 1);
}

/** The output shape (NHWC without the batch) of every node of `spec`, from its input shape. */
export function inferShapes(spec: NetworkSpec): Map<string, number[]> {
  const nodes = new Map<string, NetworkNode>(spec.nodes.map((n) => [n.name, n]));
  const shapes = new Map<string, number[]>();
  const visiting = new Set<string>();
  const shapeOf = (name: string): number[] => {
    const known = shapes.get(name);
    if (known !== undefined) return known;
    const node = nodes.get(name);
    if (node === undefined || visiting.has(name)) {
      throw new NasError('E_SPEC_INVALID', `Network ${spec.name ?? ''}: node "${name}" is missing or part of a cycle`, { node: name });
    }
    visiting.add(name);
    const inputs = (node.inputs ?? []).map(shapeOf);
    const x = inputs[0] ?? [];
    const channels = x[x.length - 1] ?? 0;
    let shape: number[];
    switch (node.op) {
      case 'input':
        shape = [...node.shape];
        break;
      case 'dense':
        shape = [...x.slice(0, -1), node.units];
        break;
      case 'conv2d':
      case 'depthwiseConv2d':
      case 'maxPool':
      case 'avgPool': {
        const [kh, kw] = 'poolSize' in node ? node.poolSize : node.kernelSize;
        const [sh, sw] = node.strides;
        const out = node.op === 'conv2d' ? node.filters : channels;
        shape = [outputSize(x[0] ?? 1, kh, sh, node.padding), outputSize(x[1] ?? 1, kw, sw, node.padding), out];
        break;
      }
      case 'globalAvgPool':
        shape = [channels];
        break;
      case 'flatten':
        shape = [x.reduce((p, d) => p * d, 1)];
        break;
      case 'concat':
        shape = [...x.slice(0, -1), inputs.reduce((sum, s) => sum + (s[s.length - 1] ?? 0), 0)];
        break;
      default: // activation, batchNorm, dropout, add: shape unchanged
        shape = x;
    }
    visiting.delete(name);
    shapes.set(name, shape);
    return shape;
  };
  for (const node of spec.nodes) shapeOf(node.name);
  return shapes;
}

/** Multiply-accumulates of one node (0 for nodes that do none: activations, pooling, batch norm). */
function macsOf(node: NetworkNode, shapes: Map<string, number[]>): number {
  const input = shapes.get(node.inputs?.[0] ?? '') ?? [];
  const output = shapes.get(node.name) ?? [];
  const positions = (shape: number[]): number => shape.slice(0, -1).reduce((p, d) => p * d, 1);
  const inChannels = input[input.length - 1] ?? 0;
  switch (node.op) {
    case 'dense':
      return positions(output) * inChannels * node.units;
    case 'conv2d':
      return positions(output) * node.kernelSize[0] * node.kernelSize[1] * inChannels * node.filters;
    case 'depthwiseConv2d':
      return positions(output) * node.kernelSize[0] * node.kernelSize[1] * inChannels;
    default:
      return 0;
  }
}

/**
 * Latency without a hardware profile: every dense, conv2d and depthwise layer costs a fixed launch overhead plus
 * its multiply-accumulates at a fixed throughput. A first-order estimate (every row `estimated`).
 */
class ThroughputCostModel implements CostModel {
  readonly id = '{{id}}';
  readonly unit = 'ms' as const;

  constructor(private readonly options: ThroughputOptions) {}

  estimate(spec: NetworkSpec): CostEstimate {
    const shapes = inferShapes(spec);
    const layers: LayerCost[] = spec.nodes
      .filter((n) => n.op === 'dense' || n.op === 'conv2d' || n.op === 'depthwiseConv2d')
      .map((n) => ({ node: n.name, value: this.options.overheadMs + macsOf(n, shapes) / this.options.macsPerMs, source: 'estimated' }));
    return { model: this.id, unit: this.unit, total: layers.reduce((sum, l) => sum + (l.value ?? 0), 0), layers };
  }
}

/** The contribution: a singleton that makes the cost model with options validated against the schema. */
@injectable()
export class ThroughputCostModelContribution implements CostModelContribution<ThroughputOptions> {
  readonly id = '{{id}}';
  readonly description = 'Latency estimate without a profile: per-layer overhead plus MACs at a fixed throughput';
  readonly unit = 'ms' as const;
  readonly requiresProfile = false;
  readonly optionsSchema = optionsSchema;

  create(options: ThroughputOptions): CostModel {
    return new ThroughputCostModel(options);
  }
}
