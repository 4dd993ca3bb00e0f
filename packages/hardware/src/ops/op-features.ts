import { makeDivisible, type OpDescriptor } from './op-key.js';

/** The layer features a fallback predictor may use, in this order. */
export const FEATURE_NAMES = ['macs', 'params', 'inBytes', 'outBytes', 'kernel', 'stride', 'cin', 'cout', 'h', 'w'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/**
 * Features of one op: `macs` (multiply-accumulates), `params` (weights), `inBytes`/`outBytes` (activation
 * bytes read/written at the profile's precision), `kernel`, `stride`, `cin`, `cout`, and `h`, `w` = the input's
 * spatial size (1 for `[C]` inputs).
 */
export type OpFeatures = Readonly<Record<FeatureName, number>>;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function num(op: OpDescriptor, name: string, fallback: number): number {
  const v = op.attrs[name];
  return typeof v === 'number' ? v : fallback;
}

/** Squeeze-excite reduction width used by OFA MobileNetV3 blocks. */
export function seMidChannels(mid: number): number {
  return makeDivisible(Math.floor(mid / 4), 8);
}

/**
 * Multiply-accumulates of an op: conv/depthwise/dense (and the convs and FCs inside a block) only; batch norm,
 * activations, pooling and elementwise ops count 0. This is the convention behind OFA's "FLOPs" (which are MACs).
 */
export function opMacs(op: OpDescriptor): number {
  const inC = op.input[op.input.length - 1] ?? 0;
  const outC = op.output[op.output.length - 1] ?? inC;
  const outHw = op.output.length === 3 ? op.output[0]! * op.output[1]! : 1;
  const inHw = op.input.length === 3 ? op.input[0]! * op.input[1]! : 1;
  const k = num(op, 'kernel', 1);
  const groups = num(op, 'groups', 1);
  switch (op.kind) {
    case 'conv2d':
      return k * k * (inC / groups) * outC * outHw;
    case 'dwconv2d':
      return k * k * inC * outHw;
    case 'dense':
    case 'classifier':
      return inC * outC;
    case 'mbconv': {
      const mid = num(op, 'mid', inC);
      const expand = mid === inC ? 0 : (inC * mid * inHw) / groups;
      const se = num(op, 'se', 0) === 1 ? 2 * mid * seMidChannels(mid) : 0;
      return expand + k * k * mid * outHw + se + (mid * outC * outHw) / groups;
    }
    case 'convblock': {
      const mid = num(op, 'mid', inC);
      return (inC * mid * inHw) / groups + k * k * mid * outHw + (mid * outC * outHw) / groups;
    }
    default:
      return 0;
  }
}

/** Weights of an op as a table entry describes it: conv weights without bias; FCs and SE convs with bias. */
export function opParams(op: OpDescriptor): number {
  const inC = op.input[op.input.length - 1] ?? 0;
  const outC = op.output[op.output.length - 1] ?? inC;
  const k = num(op, 'kernel', 1);
  const groups = num(op, 'groups', 1);
  switch (op.kind) {
    case 'conv2d':
      return k * k * (inC / groups) * outC;
    case 'dwconv2d':
      return k * k * inC;
    case 'dense':
    case 'classifier':
      return inC * outC + outC;
    case 'mbconv': {
      const mid = num(op, 'mid', inC);
      const expand = mid === inC ? 0 : (inC * mid) / groups;
      const r = seMidChannels(mid);
      const se = num(op, 'se', 0) === 1 ? mid * r + r + r * mid + mid : 0;
      return expand + k * k * mid + se + (mid * outC) / groups;
    }
    case 'convblock': {
      const mid = num(op, 'mid', inC);
      return (inC * mid) / groups + k * k * mid + (mid * outC) / groups;
    }
    default:
      return 0;
  }
}

/** Features of `op` with activations stored at `bytesPerElement` (4 for fp32, 2 for fp16, 1 for int8). */
export function opFeatures(op: OpDescriptor, bytesPerElement = 4): OpFeatures {
  const inputs = op.kind === 'add' || op.kind === 'concat' ? num(op, 'inputs', 1) : 1;
  const inElems = product(op.input) * inputs;
  const outShape = op.output.length > 0 ? op.output : op.input;
  const spatial = op.input.length === 3;
  return {
    macs: opMacs(op),
    params: opParams(op),
    inBytes: inElems * bytesPerElement,
    outBytes: product(outShape) * bytesPerElement,
    kernel: num(op, 'kernel', 1),
    stride: num(op, 'stride', 1),
    cin: op.input[op.input.length - 1] ?? 0,
    cout: outShape[outShape.length - 1] ?? 0,
    h: spatial ? op.input[0]! : 1,
    w: spatial ? op.input[1]! : 1,
  };
}
