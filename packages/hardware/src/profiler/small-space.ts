import type { NetworkSpec, SeededRandom } from '@mitosis/core';
import { SpecBuilder } from '../zoo/spec-builder.js';

/**
 * The profiler's default search space: small separable CNNs on 64×64×3 inputs, cheap enough to time on a
 * shared CPU. Stem 3×3 conv (8/16/24 channels), three stages with stride 2 at entry, 1–2 blocks each of
 * (k×k depthwise + BN + ReLU, 1×1 conv + BN + ReLU) with k ∈ {3, 5} and stage widths {16,24,32} / {32,48,64} /
 * {64,96,128}, then global pooling and a 10-way dense layer.
 */
export const SMALL_SPACE = {
  resolution: 64,
  stem: [8, 16, 24],
  stages: [
    [16, 24, 32],
    [32, 48, 64],
    [64, 96, 128],
  ],
  depths: [1, 2],
  kernels: [3, 5],
  classes: 10,
} as const;

function pick<T>(rng: SeededRandom, options: readonly T[]): T {
  return options[Math.min(options.length - 1, Math.floor(rng.next() * options.length))]!;
}

/** One architecture drawn uniformly from {@link SMALL_SPACE}. */
export function sampleSmallSpace(rng: SeededRandom, name = 'small'): NetworkSpec {
  const r = SMALL_SPACE.resolution;
  const b = new SpecBuilder([r, r, 3]);
  b.convBnAct(pick(rng, SMALL_SPACE.stem), 3, 1, 'relu');
  for (const widths of SMALL_SPACE.stages) {
    const depth = pick(rng, SMALL_SPACE.depths);
    const width = pick(rng, widths);
    for (let i = 0; i < depth; i++) {
      b.dwBnAct(pick(rng, SMALL_SPACE.kernels), i === 0 ? 2 : 1, 'relu');
      b.convBnAct(width, 1, 1, 'relu');
    }
  }
  b.gap();
  b.dense(SMALL_SPACE.classes);
  return b.build(name);
}
