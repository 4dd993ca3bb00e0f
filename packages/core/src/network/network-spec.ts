/**
 * The network IR: a JSON-serialisable DAG of nodes. Tensors are NHWC (`[batch, height, width, channels]`);
 * shapes in the spec omit the batch dimension. Weight layouts follow TF.js/Keras so that a LayersModel
 * round-trips without transposes:
 * - dense `kernel` `[in, units]`, `bias` `[units]`;
 * - conv2d `kernel` `[kh, kw, in, filters]`, `bias` `[filters]`;
 * - depthwiseConv2d `depthwiseKernel` `[kh, kw, in, 1]` (depth multiplier 1), `bias` `[in]`;
 * - batchNorm `gamma`, `beta`, `movingMean`, `movingVariance`, each `[channels]`.
 *
 * Validation, shape inference and the channel dependency graph live in `@mitosis/ir`.
 */

export type ActivationKind =
  | 'relu'
  | 'relu6'
  | 'tanh'
  | 'sigmoid'
  | 'softplus'
  | 'swish'
  | 'gaussian'
  | 'identity';

export type Padding = 'same' | 'valid';

interface NodeBase {
  /** Unique node name; also the prefix of its weights (`<name>/kernel`). */
  readonly name: string;
  /** Names of the nodes this node reads, in order. */
  readonly inputs: readonly string[];
}

export interface InputNode {
  readonly name: string;
  readonly op: 'input';
  /** Shape without the batch dimension, e.g. `[28, 28, 1]` or `[1]`. */
  readonly shape: readonly number[];
  readonly inputs?: readonly [];
}
export interface DenseNode extends NodeBase {
  readonly op: 'dense';
  readonly units: number;
  readonly useBias: boolean;
}
export interface Conv2dNode extends NodeBase {
  readonly op: 'conv2d';
  readonly filters: number;
  readonly kernelSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: Padding;
  readonly useBias: boolean;
}
export interface DepthwiseConv2dNode extends NodeBase {
  readonly op: 'depthwiseConv2d';
  readonly kernelSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: Padding;
  readonly useBias: boolean;
}
export interface BatchNormNode extends NodeBase {
  readonly op: 'batchNorm';
  /** Added to the variance; Keras' default is 1e-3, PyTorch's 1e-5. */
  readonly epsilon: number;
  /** Running-statistics momentum (Keras convention: new = momentum·old + (1−momentum)·batch). */
  readonly momentum: number;
}
export interface ActivationNode extends NodeBase {
  readonly op: 'activation';
  readonly activation: ActivationKind;
}
export interface PoolNode extends NodeBase {
  readonly op: 'maxPool' | 'avgPool';
  readonly poolSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: Padding;
}
export interface GlobalAvgPoolNode extends NodeBase {
  readonly op: 'globalAvgPool';
}
export interface FlattenNode extends NodeBase {
  readonly op: 'flatten';
}
export interface AddNode extends NodeBase {
  readonly op: 'add';
}
export interface ConcatNode extends NodeBase {
  readonly op: 'concat';
}
export interface DropoutNode extends NodeBase {
  readonly op: 'dropout';
  readonly rate: number;
}

export type NetworkNode =
  | InputNode
  | DenseNode
  | Conv2dNode
  | DepthwiseConv2dNode
  | BatchNormNode
  | ActivationNode
  | PoolNode
  | GlobalAvgPoolNode
  | FlattenNode
  | AddNode
  | ConcatNode
  | DropoutNode;

export type NodeOp = NetworkNode['op'];

export const NODE_OPS: readonly NodeOp[] = [
  'input',
  'dense',
  'conv2d',
  'depthwiseConv2d',
  'batchNorm',
  'activation',
  'maxPool',
  'avgPool',
  'globalAvgPool',
  'flatten',
  'add',
  'concat',
  'dropout',
];

export const ACTIVATIONS: readonly ActivationKind[] = [
  'relu',
  'relu6',
  'tanh',
  'sigmoid',
  'softplus',
  'swish',
  'gaussian',
  'identity',
];

/** A whole network: nodes in any order (the IR sorts them), one input node, one output node. */
export interface NetworkSpec {
  readonly format: 'mitosis-network';
  readonly version: 1;
  readonly name?: string;
  readonly nodes: readonly NetworkNode[];
  /** The node whose value is the network output (logits for classification). */
  readonly output: string;
}

/** A named weight tensor: flat data in row-major order of `shape`. */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Weights keyed `<node>/<param>` (`conv1/kernel`, `bn1/movingVariance`). */
export type WeightMap = Map<string, WeightTensor>;
