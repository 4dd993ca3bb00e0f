import { cpus } from 'node:os';
import { NasError, SeededRandom, writeFileAtomicSync, type NetworkNode, type NetworkSpec } from '@mitosis/core';
import { initWeights, inferShapes } from '@mitosis/ir';
import { NetworkModel, forward, tf, useBackend, type BackendPreference } from '@mitosis/engine';
import { blocksFromSpec } from '../ops/blocks.js';
import { canonicalKey, parseCanonicalKey, type OpDescriptor } from '../ops/op-key.js';
import type { HardwareProfile, ProfileEntry } from '../profile/hardware-profile.js';
import { validateProfile } from '../profile/load-profile.js';
import { fitTableFallback } from '../tools/build-shipped-profiles.js';
import { sampleSmallSpace } from './small-space.js';

/** Timing statistics of one measured thing, in ms. */
export interface Timing {
  readonly median: number;
  readonly mean: number;
  readonly std: number;
  readonly count: number;
}

function stats(samples: readonly number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const std = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, s.length - 1));
  return { median, mean, std, count: s.length };
}

/** A prepared inference of one spec: call `run()` to execute once (batch 1, eval mode, ending in `dataSync`). */
interface PreparedRun {
  run(): void;
  dispose(): void;
}

function prepare(spec: NetworkSpec): PreparedRun {
  const input = spec.nodes.find((n) => n.op === 'input');
  if (input === undefined || input.op !== 'input') throw new NasError('E_SPEC_INVALID', 'spec has no input node', {});
  const model = new NetworkModel(spec, initWeights(spec, 1));
  const x = tf.randomNormal([1, ...input.shape], 0, 1, 'float32', 7);
  return {
    run() {
      const y = tf.tidy(() => forward(model, x, { training: false }));
      y.dataSync();
      if (y !== x) y.dispose();
    },
    dispose() {
      x.dispose();
      model.dispose();
    },
  };
}

/**
 * Times inference of several specs through `@mitosis/engine`'s `forward` on the active TF.js backend, round
 * robin: every spec runs `warmup` untimed times, then `repeats` rounds each time every spec once, so that all
 * see the same machine state (caches, allocator, other processes' load). Weights are the IR's seeded
 * initialisation (values do not change the arithmetic). Returns one timing per spec, in ms.
 */
export function timeSpecs(specs: readonly NetworkSpec[], warmup: number, repeats: number): Timing[] {
  const runs = specs.map(prepare);
  try {
    for (let w = 0; w < warmup; w++) runs.forEach((r) => r.run());
    const samples = runs.map(() => [] as number[]);
    for (let i = 0; i < repeats; i++) {
      runs.forEach((r, j) => {
        const t0 = performance.now();
        r.run();
        samples[j]!.push(performance.now() - t0);
      });
    }
    return samples.map(stats);
  } finally {
    runs.forEach((r) => r.dispose());
  }
}

/**
 * Times every row of the given architectures *in context*: each network runs whole (round robin, after
 * `warmup` runs) while a `forward` hook stamps the clock after every node, so a node's time is the gap since the
 * previous node (TF.js wasm and cpu kernels run synchronously). A row's time is the sum over its fused nodes; the
 * samples of a key pool over repeats and over every place the key occurs. Returns key → samples (ms).
 */
export function timeRowsInContext(specs: readonly NetworkSpec[], warmup: number, repeats: number): Map<string, number[]> {
  const samples = new Map<string, number[]>();
  const prepared = specs.map((spec) => {
    const rowKey = new Map<string, string>();
    for (const b of blocksFromSpec(spec)) for (const n of b.fused) rowKey.set(n, canonicalKey(b.op));
    const input = spec.nodes.find((n) => n.op === 'input');
    if (input === undefined || input.op !== 'input') throw new NasError('E_SPEC_INVALID', 'spec has no input node', {});
    return { rowKey, model: new NetworkModel(spec, initWeights(spec, 1)), x: tf.randomNormal([1, ...input.shape], 0, 1, 'float32', 7) };
  });
  try {
    const runOnce = (p: (typeof prepared)[number], record: boolean): void => {
      const perKey = new Map<string, number>();
      let last = performance.now();
      const y = tf.tidy(() =>
        forward(p.model, p.x, {
          training: false,
          hook: (n) => {
            const now = performance.now();
            const key = p.rowKey.get(n.name);
            if (key !== undefined) perKey.set(key, (perKey.get(key) ?? 0) + now - last);
            last = performance.now();
          },
        }),
      );
      y.dataSync();
      y.dispose();
      if (!record) return;
      for (const [key, ms] of perKey) {
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key)!.push(ms);
      }
    };
    for (let w = 0; w < warmup; w++) prepared.forEach((p) => runOnce(p, false));
    for (let i = 0; i < repeats; i++) prepared.forEach((p) => runOnce(p, true));
  } finally {
    prepared.forEach((p) => {
      p.x.dispose();
      p.model.dispose();
    });
  }
  return samples;
}

/** {@link timeSpecs} for one spec. */
export function timeSpec(spec: NetworkSpec, warmup: number, repeats: number): Timing {
  return timeSpecs([spec], warmup, repeats)[0]!;
}

function node(partial: Record<string, unknown>): NetworkNode {
  return partial as unknown as NetworkNode;
}

/**
 * A one-op network that realises a canonical op the way the engine runs layers: conv2d and depthwise as
 * conv → batchNorm → ReLU (the fused row of a spec), dense with bias, pools with `same` padding, add/concat
 * of the input with itself. Composite keys (`mbconv`, `convblock`, `classifier`) and `identity` are not
 * realisable here (`E_USAGE`): the local profile is layer-granular.
 */
export function specForOp(op: OpDescriptor): NetworkSpec {
  const inShape = [...op.input];
  const nodes: NetworkNode[] = [node({ name: 'x', op: 'input', shape: inShape })];
  const k = Number(op.attrs['kernel'] ?? 1);
  const s = Number(op.attrs['stride'] ?? 1);
  const bnRelu = (from: string): void => {
    nodes.push(node({ name: 'bn', op: 'batchNorm', inputs: [from], epsilon: 1e-3, momentum: 0.99 }));
    nodes.push(node({ name: 'act', op: 'activation', inputs: ['bn'], activation: 'relu' }));
  };
  switch (op.kind) {
    case 'conv2d':
      if (Number(op.attrs['groups'] ?? 1) !== 1) throw new NasError('E_USAGE', `grouped conv is not in the network IR: ${canonicalKey(op)}`, {});
      nodes.push(node({ name: 'op', op: 'conv2d', inputs: ['x'], filters: op.output[2], kernelSize: [k, k], strides: [s, s], padding: 'same', useBias: false }));
      bnRelu('op');
      break;
    case 'dwconv2d':
      nodes.push(node({ name: 'op', op: 'depthwiseConv2d', inputs: ['x'], kernelSize: [k, k], strides: [s, s], padding: 'same', useBias: false }));
      bnRelu('op');
      break;
    case 'dense':
      nodes.push(node({ name: 'op', op: 'dense', inputs: ['x'], units: op.output[0], useBias: true }));
      break;
    case 'maxpool':
    case 'avgpool':
      nodes.push(node({ name: 'op', op: op.kind === 'maxpool' ? 'maxPool' : 'avgPool', inputs: ['x'], poolSize: [k, k], strides: [s, s], padding: 'same' }));
      break;
    case 'gap':
      nodes.push(node({ name: 'op', op: 'globalAvgPool', inputs: ['x'] }));
      break;
    case 'add':
    case 'concat':
      nodes.push(node({ name: 'op', op: op.kind, inputs: Array.from({ length: Number(op.attrs['inputs'] ?? 2) }, () => 'x') }));
      break;
    case 'activation':
      nodes.push(node({ name: 'op', op: 'activation', inputs: ['x'], activation: op.attrs['act'] }));
      break;
    case 'batchnorm':
      nodes.push(node({ name: 'op', op: 'batchNorm', inputs: ['x'], epsilon: 1e-3, momentum: 0.99 }));
      break;
    default:
      throw new NasError('E_USAGE', `The profiler measures layer ops; "${op.kind}" is a block or no-op`, { key: canonicalKey(op) });
  }
  const spec: NetworkSpec = { format: 'mitosis-network', version: 1, name: canonicalKey(op), nodes, output: nodes.at(-1)!.name };
  const out = inferShapes(spec).get('op')!;
  const want = op.output.length > 0 ? op.output : op.input;
  if (out.length !== want.length || out.some((d, i) => d !== want[i])) {
    throw new NasError('E_USAGE', `Cannot realise ${canonicalKey(op)}: 'same' padding gives [${out.join(', ')}]`, {});
  }
  return spec;
}

/** Options of {@link runProfiler}. */
export interface ProfilerOptions {
  /** The profile id (and file stem), e.g. `local`. */
  readonly deviceId: string;
  /** Architectures whose layer keys are measured; default `sample` architectures from the small space. */
  readonly space?: readonly NetworkSpec[];
  /** Explicit canonical keys (or ops) to measure, in addition to the space's. */
  readonly ops?: readonly (string | OpDescriptor)[];
  /** Architectures to sample from the small space when `space` is absent (default 40). */
  readonly sample?: number;
  readonly seed?: number;
  readonly warmup: number;
  readonly repeats: number;
  /** Where to write the profile JSON; omitted = do not write. */
  readonly out?: string;
  /** TF.js backend (default `wasm`, single-threaded under Node: reproducible timings). */
  readonly backend?: BackendPreference;
  readonly deviceName?: string;
}

/**
 * Measures every layer op of a set of architectures on the current machine and TF.js backend, op by op in
 * context ({@link timeRowsInContext}: median and std per key; explicit extra keys timed alone with
 * {@link specForOp}),
 * fits the fallback predictor to the table, validates and (optionally) writes the profile.
 */
export async function runProfiler(options: ProfilerOptions): Promise<HardwareProfile> {
  const choice = await useBackend(options.backend ?? 'wasm');
  const rng = new SeededRandom(options.seed ?? 1);
  const space = options.space ?? Array.from({ length: options.sample ?? 40 }, (_, i) => sampleSmallSpace(rng, `sample-${i}`));
  const ops = new Map<string, OpDescriptor>();
  for (const spec of space) {
    for (const b of blocksFromSpec(spec)) if (b.op.kind !== 'identity') ops.set(canonicalKey(b.op), b.op);
  }
  for (const o of options.ops ?? []) {
    const op = typeof o === 'string' ? parseCanonicalKey(o) : o;
    ops.set(canonicalKey(op), op);
  }
  const empty: NetworkSpec = {
    format: 'mitosis-network',
    version: 1,
    nodes: [node({ name: 'x', op: 'input', shape: [1] }), node({ name: 'op', op: 'activation', inputs: ['x'], activation: 'identity' })],
    output: 'op',
  };
  const inContext = timeRowsInContext(space, options.warmup, options.repeats);
  const table: Record<string, ProfileEntry> = {};
  for (const [key, samples] of inContext) {
    const t = stats(samples);
    table[key] = { mean: t.median, std: t.std, count: t.count };
  }
  // Keys asked for explicitly but absent from the space: timed alone, minus an empty network's call overhead.
  const isolated = [...ops.keys()].filter((k) => !inContext.has(k)).sort();
  if (isolated.length > 0) {
    const timings = timeSpecs([empty, ...isolated.map((k) => specForOp(ops.get(k)!))], options.warmup, options.repeats);
    isolated.forEach((key, i) => {
      const t = timings[i + 1]!;
      table[key] = { mean: Math.max(0, t.median - timings[0]!.median), std: t.std, count: t.count };
    });
  }
  const keys = Object.keys(table).sort();
  const sorted = Object.fromEntries(keys.map((k) => [k, table[k]!]));
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const profile: HardwareProfile = {
    $schema: './schema/hardware-profile.schema.json',
    id: options.deviceId,
    version: 1,
    description: `Measured on this machine (${cpu}) with TF.js ${tf.version_core} / ${choice.backend}, batch 1, layer by layer.`,
    device: { name: options.deviceName ?? `${cpu} (${cpus().length} logical cores)`, class: 'cpu', processor: cpu },
    runtime: { name: `tfjs-${choice.backend}`, version: tf.version_core },
    precision: 'fp32',
    batchSize: 1,
    granularity: 'layer',
    estimated: false,
    units: { latency: 'ms' },
    measurement: {
      statistic: 'median',
      threads: choice.backend === 'wasm' || choice.backend === 'cpu' ? 1 : null,
      warmup: options.warmup,
      repeats: options.repeats,
      frequencyPinned: null,
      notes:
        `Rows timed in context: each sampled architecture runs whole through @mitosis/engine forward (eval mode, ` +
        `batch 1, round robin over architectures) and a node hook stamps the clock after every node; a row (conv+BN+act ` +
        `etc.) is the sum of its nodes. Median over ${options.repeats} runs × occurrences after ${options.warmup} warm-up ` +
        `runs. Explicit keys absent from the space: timed as one-op networks minus an empty network's call overhead. ` +
        `Node ${process.version}; CPU shared with other processes, frequency not pinned.`,
    },
    table: sorted,
    fallback: fitTableFallback(sorted),
    provenance: {
      source: `runProfiler on this machine (${space.length} architectures, ${keys.length} ops, seed ${options.seed ?? 1})`,
      license: 'Apache-2.0 (generated by mitosis)',
      generatedBy: 'packages/hardware runProfiler',
      date: new Date().toISOString().slice(0, 10),
    },
  };
  const valid = validateProfile(profile, options.out ?? options.deviceId);
  if (options.out !== undefined) writeFileAtomicSync(options.out, `${JSON.stringify(valid, null, 1)}\n`, 'write the hardware profile');
  return valid;
}
