import type { NetworkSpec } from '@mitosis/core';
import { makeDivisible } from '../ops/op-key.js';
import { SpecBuilder } from './spec-builder.js';

/** Depthwise strides of MobileNetV1's 13 separable blocks (Howard et al. 2017, Table 1). */
export const MOBILENET_V1_STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1] as const;
/** Output widths of MobileNetV1 1.0×: the first conv, then the 13 pointwise convs. */
export const MOBILENET_V1_WIDTHS = [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024] as const;

export interface MobileNetV1Options {
  /** 14 widths: first conv, then each pointwise conv (default 1.0× × `alpha`). */
  readonly widths?: readonly number[];
  /** Width multiplier applied to the default widths (Keras: `int(c·α)`); ignored when `widths` is given. */
  readonly alpha?: number;
  readonly resolution?: number;
  readonly classes?: number;
  /** Stride of the first conv: 2 for ImageNet, 1 in the CIFAR variant. */
  readonly firstStride?: number;
}

/**
 * MobileNetV1 as a network spec: 3×3 conv+BN+ReLU, 13 × (3×3 depthwise+BN+ReLU, 1×1 conv+BN+ReLU), global
 * pooling, dense classifier with bias. 1.0×/224/1000 classes = 569M MACs, 4.23M trainable parameters.
 */
export function mobileNetV1Spec(options: MobileNetV1Options = {}): NetworkSpec {
  const alpha = options.alpha ?? 1;
  const widths = options.widths ?? MOBILENET_V1_WIDTHS.map((c) => Math.floor(c * alpha));
  const r = options.resolution ?? 224;
  const b = new SpecBuilder([r, r, 3]);
  b.convBnAct(widths[0]!, 3, options.firstStride ?? 2, 'relu');
  MOBILENET_V1_STRIDES.forEach((s, i) => {
    b.dwBnAct(3, s, 'relu');
    b.convBnAct(widths[i + 1]!, 1, 1, 'relu');
  });
  b.gap();
  b.dense(options.classes ?? 1000);
  return b.build(`mobilenet-v1-${alpha}-${r}`);
}

/** MobileNetV2 inverted-residual settings: expansion t, channels c, repeats n, first stride s (Sandler et al. 2018). */
export const MOBILENET_V2_SETTINGS = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
] as const;

export interface MobileNetV2Options {
  readonly alpha?: number;
  readonly resolution?: number;
  readonly classes?: number;
}

/**
 * MobileNetV2 as a network spec (ReLU6, linear bottlenecks, residual adds when stride 1 and widths match,
 * widths `makeDivisible(c·α, 8)`). 1.0×/224/1000 classes = 300.8M MACs, 3.50M parameters.
 */
export function mobileNetV2Spec(options: MobileNetV2Options = {}): NetworkSpec {
  const alpha = options.alpha ?? 1;
  const r = options.resolution ?? 224;
  const b = new SpecBuilder([r, r, 3]);
  let cin = makeDivisible(32 * alpha, 8);
  let x = b.convBnAct(cin, 3, 2, 'relu6');
  for (const [t, c, n, s] of MOBILENET_V2_SETTINGS) {
    const cout = makeDivisible(c * alpha, 8);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const blockIn = x;
      if (t !== 1) b.convBnAct(cin * t, 1, 1, 'relu6');
      b.dwBnAct(3, stride, 'relu6');
      x = b.convBnAct(cout, 1, 1, null);
      if (stride === 1 && cin === cout) x = b.add(blockIn, x);
      cin = cout;
    }
  }
  b.convBnAct(alpha > 1 ? makeDivisible(1280 * alpha, 8) : 1280, 1, 1, 'relu6');
  b.gap();
  b.dense(options.classes ?? 1000);
  return b.build(`mobilenet-v2-${alpha}-${r}`);
}
