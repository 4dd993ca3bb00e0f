import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
// The Node bundle of tfjs-core registers no gradients; tfjs-layers' bundle registers every core op's.
import '@tensorflow/tfjs-layers';

import { convBackpropFilter, convBackpropInput, type ConvPad } from './conv-backprop.js';
import { convDirect, convDirectAvailable } from './conv-direct.js';
import { depthwiseConvSimd, depthwiseConvSimdAvailable } from './depthwise-conv.js';
import { maxPoolGradSimdKernel } from './max-pool-grad.js';
import { wasmConcatKernel, wasmPackKernel } from './wasm-concat.js';
import { wasmPadKernel } from './wasm-pad.js';
import { rowMatMulAvailable, rowMatMulSimd } from './pointwise-conv.js';
import { winogradConv2d, winogradConv2dApplies, winogradConv2dFilterGrad } from './winograd-conv.js';
import { wasmIdentityKernel, wasmSliceKernel, wasmStridedSliceKernel } from './wasm-slice.js';

/** Marks the kernel configs registered here, so re-installation (even from a second copy) is a no-op. */
const installedMark: unique symbol = Symbol.for('@mitosis/kernels/wasm-kernel');

type MarkedKernelConfig = tf.KernelConfig & { [installedMark]?: true };

type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** Kernels that the wasm backend lacks or runs slowly, which {@link installWasmKernels} registers. */
export const wasmKernelNames: readonly string[] = [
  tf.Conv2DBackpropInput,
  tf.Conv2DBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
  tf.DepthwiseConv2dNativeBackpropFilter,
  tf.Slice,
  tf.Identity,
  tf.StridedSlice,
  tf.DepthwiseConv2dNative,
  tf.Conv2D,
  tf.MaxPoolGrad,
  tf.PadV2,
  tf.Concat,
  tf.Pack,
];

/** The configs that were registered before ours (Conv2DBackpropInput, Slice, Identity, StridedSlice exist in wasm 4.22). */
const replaced = new Map<string, tf.KernelConfig>();

function asTensor4D(info: tf.TensorInfo | undefined, kernel: string, name: string): tf.Tensor4D {
  if (info === undefined) throw new Error(`${kernel}: input "${name}" is missing`);
  if (info instanceof tf.Tensor) return info as tf.Tensor4D;
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
}

function checkAttrs(kernel: string, attrs: tf.NamedAttrMap): void {
  const dilations = attrs['dilations'] as number | number[] | undefined;
  const dil = dilations === undefined ? [1, 1] : typeof dilations === 'number' ? [dilations] : dilations;
  if (dil.some((d) => d !== 1)) {
    throw new Error(`${kernel}: dilations ${JSON.stringify(dilations)} are not supported (only 1)`);
  }
  const format = attrs['dataFormat'] as string | undefined;
  if (format !== undefined && format !== 'NHWC' && format !== 'channelsLast') {
    throw new Error(`${kernel}: dataFormat ${format} is not supported (only NHWC)`);
  }
}

function backpropInputKernel(kernel: string, depthwise: boolean): tf.KernelFunc {
  return ({ inputs, attrs }) => {
    const a = attrs ?? {};
    checkAttrs(kernel, a);
    return tf.tidy(() =>
      convBackpropInput(
        asTensor4D(inputs['dy'], kernel, 'dy'),
        asTensor4D(inputs['filter'], kernel, 'filter'),
        a['inputShape'] as unknown as [number, number, number, number],
        a['strides'] as number | [number, number],
        a['pad'] as ConvPad,
        a['dimRoundingMode'] as Rounding,
        depthwise,
      ),
    );
  };
}

function backpropFilterKernel(kernel: string, depthwise: boolean): tf.KernelFunc {
  return ({ inputs, attrs }) => {
    const a = attrs ?? {};
    checkAttrs(kernel, a);
    const x = inputs['x'];
    const dy = inputs['dy'];
    const filterShape = a['filterShape'] as unknown as [number, number, number, number];
    const plain = !depthwise && x !== undefined && dy !== undefined && x.dtype === 'float32' && dy.dtype === 'float32' && x.shape.length === 4;
    if (plain && filterShape[0] === 3 && filterShape[1] === 3 && winogradConv2dApplies(x.shape, filterShape) && samePadded3x3(x.shape, filterShape, a)) {
      return tf.tidy(() => winogradConv2dFilterGrad(asTensor4D(x, kernel, 'x'), asTensor4D(dy, kernel, 'dy')));
    }
    return tf.tidy(() =>
      convBackpropFilter(
        asTensor4D(inputs['x'], kernel, 'x'),
        asTensor4D(inputs['dy'], kernel, 'dy'),
        a['filterShape'] as unknown as [number, number, number, number],
        a['strides'] as number | [number, number],
        a['pad'] as ConvPad,
        a['dimRoundingMode'] as Rounding,
        depthwise,
      ),
    );
  };
}

/**
 * Forward `DepthwiseConv2dNative` for wasm: channel multiplier 1 (NHWC, dilation 1, float32) through
 * the generated SIMD kernel of `depthwise-conv.ts` (≈ 1.5–2× faster than wasm's own here); anything
 * else through the kernel it replaced.
 */
function depthwiseForwardKernel(args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const a = args.attrs ?? {};
  const x = args.inputs['x'];
  const filter = args.inputs['filter'];
  // tfjs-layers passes null for absent attributes.
  const dilations = a['dilations'] as number | number[] | null | undefined;
  const dil = dilations == null ? [1, 1] : typeof dilations === 'number' ? [dilations] : dilations;
  const format = a['dataFormat'] as string | null | undefined;
  if (
    x !== undefined &&
    filter !== undefined &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    x.shape.length === 4 &&
    filter.shape[3] === 1 &&
    dil.every((d) => d === 1) &&
    (format == null || format === 'NHWC' || format === 'channelsLast') &&
    depthwiseConvSimdAvailable()
  ) {
    const strides = a['strides'] as number | [number, number];
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      1,
      a['pad'] as ConvPad,
      (a['dimRoundingMode'] as Rounding | null) ?? undefined,
      true,
    );
    if (info.outHeight > 0 && info.outWidth > 0 && info.batchSize > 0) {
      return tf.tidy(() =>
        depthwiseConvSimd(
          asTensor4D(x, tf.DepthwiseConv2dNative, 'x'),
          asTensor4D(filter, tf.DepthwiseConv2dNative, 'filter'),
          info.strideHeight,
          info.strideWidth,
          info.padInfo,
        ),
      );
    }
  }
  const original = replaced.get(tf.DepthwiseConv2dNative)?.kernelFunc;
  if (original === undefined) throw new Error('DepthwiseConv2dNative: no wasm kernel to fall back to');
  return original(args);
}

/** `computeConv2DInfo` for a convolution's attributes (dilation 1). */
function conv2dInfo(xShape: readonly number[], filterShape: readonly number[], a: tf.NamedAttrMap): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a['strides'] as number | [number, number],
    1,
    a['pad'] as ConvPad,
    (a['dimRoundingMode'] as Rounding | null) ?? undefined,
  );
}

/** Stride 1 with one pixel of padding on every side: what the Winograd kernels take. */
function samePadded3x3(xShape: readonly number[], filterShape: readonly number[], a: tf.NamedAttrMap): boolean {
  const info = conv2dInfo(xShape, filterShape, a);
  const p = info.padInfo;
  return info.strideHeight === 1 && info.strideWidth === 1 && p.top === 1 && p.bottom === 1 && p.left === 1 && p.right === 1;
}

/**
 * Forward `Conv2D` for wasm: pointwise convolutions (1×1 filter, stride 1, no padding, NHWC, float32,
 * N·H·W a multiple of 4, output channels a multiple of 8) as one row-major SIMD product
 * (`pointwise-conv.ts`; faster than wasm's XNNPACK convolution here, which also re-packs the
 * filter whenever it changes); 3×3 stride-1 `same` convolutions with enough channels by Winograd's F(2×2, 3×3)
 * (`winograd-conv.ts`); anything else through the kernel it replaced.
 */
function conv2dForwardKernel(args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const a = args.attrs ?? {};
  const x = args.inputs['x'];
  const filter = args.inputs['filter'];
  const dilations = a['dilations'] as number | number[] | null | undefined;
  const dil = dilations == null ? [1, 1] : typeof dilations === 'number' ? [dilations] : dilations;
  const format = a['dataFormat'] as string | null | undefined;
  const plain =
    x !== undefined &&
    filter !== undefined &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    x.shape.length === 4 &&
    dil.every((d) => d === 1) &&
    (format == null || format === 'NHWC' || format === 'channelsLast');
  if (plain && filter.shape[0] === 3 && filter.shape[1] === 3 && winogradConv2dApplies(x.shape, filter.shape)) {
    if (samePadded3x3(x.shape, filter.shape, a)) {
      return tf.tidy(() => winogradConv2d(asTensor4D(x, tf.Conv2D, 'x'), asTensor4D(filter, tf.Conv2D, 'filter')));
    }
  }
  if (plain && filter.shape[0] === 1 && filter.shape[1] === 1) {
    const info = conv2dInfo(x.shape, filter.shape, a);
    const [n, h, w, inC] = x.shape as [number, number, number, number];
    const outC = filter.shape[3] as number;
    const m = n * h * w;
    if (
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      info.padInfo.top === 0 &&
      info.padInfo.left === 0 &&
      info.outHeight === h &&
      info.outWidth === w &&
      rowMatMulAvailable(m, inC, outC)
    ) {
      return tf.tidy(() => {
        const x2 = tf.reshape(asTensor4D(x, tf.Conv2D, 'x'), [m, inC]) as tf.Tensor2D;
        const w2 = tf.reshape(asTensor4D(filter, tf.Conv2D, 'filter'), [inC, outC]) as tf.Tensor2D;
        return tf.reshape(rowMatMulSimd(x2, w2), [n, h, w, outC]);
      });
    }
  }
  const [inC, outC] = [filter?.shape[2] as number, filter?.shape[3] as number];
  if (plain && (inC === 1 || outC < inC) && convDirectAvailable(inC, outC, filter.shape[0] as number, filter.shape[1] as number)) {
    const info = conv2dInfo(x.shape, filter.shape, a);
    if (info.strideHeight === 1 && info.strideWidth === 1 && info.padInfo.top >= 0 && info.padInfo.left >= 0) {
      // Small stride-1 layers where wasm's own (XNNPACK) convolution is slow: a single input channel (grey first
      // layers) and fewer output than input channels (e.g. the input gradient of an 8 → 16 layer). Measured 3×3,
      // 'same' (ms, this kernel vs XNNPACK): 64×28×28×1 → 32 1.81 vs 2.02, → 8 0.37 vs 0.62, 64×14×14×16 → 8 0.67 vs
      // 1.01, 64×14×14×22 → 12 1.65 vs 2.67, 64×28×28×12 → 8 2.10 vs 3.11; but 64×32×32×3 → 8 1.87 vs 1.23,
      // 64×14×14×8 → 16 1.16 vs 1.08, 12 → 16 1.64 vs 1.47 (see conv-direct.ts). Even-sized 3×3 layers with 4 or
      // more channels each side went to Winograd above; these are the single-channel, odd-sized and other-filter ones.
      return convDirect(asTensor4D(x, tf.Conv2D, 'x'), asTensor4D(filter, tf.Conv2D, 'filter'), info.outHeight, info.outWidth, info.padInfo.top, info.padInfo.left);
    }
  }
  const original = replaced.get(tf.Conv2D)?.kernelFunc;
  if (original === undefined) throw new Error('Conv2D: no wasm kernel to fall back to');
  return original(args);
}

/**
 * A kernel that replaces wasm's own `name`; with `setup`, wasm's kernel (the fallback) still binds its wasm function
 * in its setup.
 */
function replacing(name: string, kernelFunc: tf.KernelFunc, setup: boolean): MarkedKernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc,
    ...(setup ? { setupFunc: (backend: object) => replaced.get(name)?.setupFunc?.(backend) } : {}),
    [installedMark]: true,
  };
}

/** wasm's own kernel `name`, which the replacement falls back to where it does not apply. */
function fallback(name: string): () => tf.KernelFunc | undefined {
  return () => replaced.get(name)?.kernelFunc;
}

function configs(): MarkedKernelConfig[] {
  return [
    replacing(tf.Conv2DBackpropInput, backpropInputKernel(tf.Conv2DBackpropInput, false), false),
    replacing(tf.Conv2DBackpropFilter, backpropFilterKernel(tf.Conv2DBackpropFilter, false), false),
    replacing(tf.DepthwiseConv2dNativeBackpropInput, backpropInputKernel(tf.DepthwiseConv2dNativeBackpropInput, true), false),
    replacing(tf.DepthwiseConv2dNativeBackpropFilter, backpropFilterKernel(tf.DepthwiseConv2dNativeBackpropFilter, true), false),
    replacing(tf.Slice, wasmSliceKernel(fallback(tf.Slice)), false),
    replacing(tf.Identity, wasmIdentityKernel(fallback(tf.Identity)), false),
    replacing(tf.DepthwiseConv2dNative, depthwiseForwardKernel, true),
    replacing(tf.Conv2D, conv2dForwardKernel, true),
    replacing(tf.MaxPoolGrad, maxPoolGradSimdKernel(fallback(tf.MaxPoolGrad)), true),
    replacing(tf.PadV2, wasmPadKernel(fallback(tf.PadV2)), true),
    replacing(tf.Concat, wasmConcatKernel(fallback(tf.Concat)), true),
    replacing(tf.Pack, wasmPackKernel(fallback(tf.Pack)), true),
    replacing(tf.StridedSlice, wasmStridedSliceKernel(fallback(tf.StridedSlice)), false),
  ];
}

/**
 * Registers, for backend `wasm`, the convolution gradient kernels built from wasm's fast forward
 * kernels (see `conv-backprop.ts`): `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropInput`,
 * `DepthwiseConv2dNativeBackpropFilter` (absent from wasm 4.22), and `Conv2DBackpropInput` (wasm's
 * own is a `conv2dTranspose`, ≈ 10× slower than a forward convolution), plus a `Slice` that copies
 * inside the wasm heap and an `Identity` that shares buffers, and a heap-gathering
 * `StridedSlice` (see `wasm-slice.ts`), a SIMD `MaxPoolGrad` for non-overlapping pools
 * (`max-pool-grad.ts`), a heap-copying constant `PadV2` (`wasm-pad.ts`) and heap-copying `Concat` and
 * `Pack` (`wasm-concat.ts`).
 *
 * TF.js's stock gradients for `Conv2D` and `DepthwiseConv2dNative` call exactly these kernels, so
 * no gradient is overridden: the global gradient registry (keyed by kernel name only, shared by all
 * backends) is left alone, and `cpu` keeps its own kernels. `registerKernel` only `log.warn`s and
 * overwrites on a duplicate, so this function unregisters a foreign config first (remembering it
 * for {@link uninstallWasmKernels}) and skips kernels that already carry its mark: calling it
 * again, or from a second copy of this package, changes nothing.
 */
export function installWasmKernels(): void {
  for (const config of configs()) {
    const existing = tf.getKernel(config.kernelName, 'wasm') as MarkedKernelConfig | undefined;
    if (existing?.[installedMark] === true) continue;
    if (existing !== undefined) {
      replaced.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
}

/**
 * Undoes {@link installWasmKernels}: removes the kernels it registered and restores the configs it
 * replaced. A no-op when nothing is installed.
 */
export function uninstallWasmKernels(): void {
  for (const name of wasmKernelNames) {
    const existing = tf.getKernel(name, 'wasm') as MarkedKernelConfig | undefined;
    if (existing?.[installedMark] !== true) continue;
    tf.unregisterKernel(name, 'wasm');
    const original = replaced.get(name);
    if (original !== undefined) {
      tf.registerKernel(original);
      replaced.delete(name);
    }
  }
}

/** True when every kernel of {@link wasmKernelNames} is the one {@link installWasmKernels} registers. */
export function wasmKernelsInstalled(): boolean {
  return wasmKernelNames.every(
    (name) => (tf.getKernel(name, 'wasm') as MarkedKernelConfig | undefined)?.[installedMark] === true,
  );
}
