import type { HardwareProfile } from '../profile/hardware-profile.js';

/** A small valid profile to break in each case. */
export function tinyProfile(): HardwareProfile {
  return {
    id: 'tiny-cpu',
    version: 1,
    device: { name: 'test', class: 'cpu' },
    runtime: { name: 'test' },
    precision: 'fp32',
    batchSize: 1,
    granularity: 'layer',
    estimated: false,
    units: { latency: 'ms' },
    measurement: { statistic: 'median', threads: 1, warmup: 1, repeats: 3 },
    table: {
      'dense-input:16-output:10': { mean: 0.01, std: 0.001, count: 3 },
      'conv2d-input:8x8x3-output:8x8x4-kernel:3-stride:1': { mean: 0.05 },
    },
    fallback: { expression: 'c0 + c1 * macs', coefficients: { c0: 0.001, c1: 1e-6 } },
    provenance: { source: 'unit test', license: 'Apache-2.0' },
  };
}

