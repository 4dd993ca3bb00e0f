import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NasError, SeededRandom, type NetworkSpec } from '@mitosis/core';
import {
  LatencyCostModel,
  blocksFromSpec,
  canonicalKey,
  fitTableFallback,
  kendallTau,
  medianAbsPctError,
  sampleSmallSpace,
  validateProfile,
  type HardwareProfile,
  type LocalValidation,
  type ProfileEntry,
} from '@mitosis/hardware';
import { initWeights } from '@mitosis/ir';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from './onnx/onnx-export.js';

/** How ONNX Runtime runs while it is timed: CPU execution provider, fixed thread counts, sequential execution. */
export interface OrtRunSettings {
  /** Intra-op threads (default 1: reproducible, and what a phone core runs). */
  readonly threads?: number;
  /** ONNX Runtime graph optimisation (default `all`, as a deployment runs it). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

function sessionOptions(settings: OrtRunSettings): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: settings.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: settings.optimization ?? 'all',
  };
}

/** A session on one exported spec with its batch-1 input (zeros: values do not change the arithmetic). */
interface OrtNet {
  readonly spec: NetworkSpec;
  readonly session: ort.InferenceSession;
  readonly feeds: Record<string, ort.Tensor>;
}

async function openNet(spec: NetworkSpec, settings: OrtRunSettings, extra: ort.InferenceSession.SessionOptions = {}): Promise<OrtNet> {
  const { bytes, info } = exportOnnx(spec, initWeights(spec, 1), { source: spec.name ?? 'network' });
  const session = await ort.InferenceSession.create(bytes, { ...sessionOptions(settings), ...extra });
  const shape = [1, ...info.onnxInputShape];
  const size = shape.reduce((a, b) => a * b, 1);
  return { spec, session, feeds: { [info.inputName]: new ort.Tensor('float32', new Float32Array(size), shape) } };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function std(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1));
}

/**
 * Whole-network inference time of each spec on ONNX Runtime (batch 1), round robin after `warmup` runs each, so
 * that every network sees the same machine state. Returns the samples (ms) per spec.
 */
export async function timeOnnxSpecs(specs: readonly NetworkSpec[], warmup: number, repeats: number, settings: OrtRunSettings = {}): Promise<number[][]> {
  const nets: OrtNet[] = [];
  try {
    for (const spec of specs) nets.push(await openNet(spec, settings));
    for (let w = 0; w < warmup; w++) for (const n of nets) await n.session.run(n.feeds);
    const samples = nets.map(() => [] as number[]);
    for (let i = 0; i < repeats; i++) {
      for (const [j, n] of nets.entries()) {
        const t0 = performance.now();
        await n.session.run(n.feeds);
        samples[j]!.push(performance.now() - t0);
      }
    }
    return samples;
  } finally {
    for (const n of nets) await n.session.release();
  }
}

/**
 * The spec node an ONNX Runtime kernel belongs to: the exporter names every ONNX node after the IR node it
 * realises (`conv1`, `conv1/nchw`, `act1/sigmoid`, `x_1`), and ORT's fusions keep the first node's name as a
 * prefix (`conv2_bn_nchwc`). The longest spec name that the kernel name starts with, followed by nothing, `/` or
 * `_`, wins; layout reorders ORT inserts itself match nothing (null).
 */
export function specNodeOfKernel(kernel: string, names: readonly string[]): string | null {
  let best: string | null = null;
  for (const n of names) {
    if (kernel === n || kernel.startsWith(`${n}/`) || kernel.startsWith(`${n}_`)) {
      if (best === null || n.length > best.length) best = n;
    }
  }
  return best;
}

interface KernelEvent {
  readonly name: string;
  readonly durUs: number;
}

function readKernelEvents(file: string): KernelEvent[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new NasError('E_PROFILE_INVALID', `ONNX Runtime's profile ${file} is not readable JSON: ${(cause as Error).message}`, { file });
  }
  if (!Array.isArray(doc)) throw new NasError('E_PROFILE_INVALID', `ONNX Runtime's profile ${file} is not an event list`, { file });
  return doc
    .filter((e): e is { cat: string; name: string; dur: number } => typeof e === 'object' && e !== null && e.cat === 'Node' && typeof e.name === 'string' && typeof e.dur === 'number')
    .filter((e) => e.name.endsWith('_kernel_time'))
    .map((e) => ({ name: e.name.slice(0, -'_kernel_time'.length), durUs: e.dur }));
}

/**
 * Times every row of the given architectures in context on ONNX Runtime: each network runs whole with ORT's
 * own kernel profiler on, and a row's time is the sum of the kernels of its fused nodes (a kernel ORT added — a
 * layout reorder — goes to the row that runs next). What the kernels do not cover (the session's call and
 * per-kernel dispatch), measured as the gap between the same network's median wall time without profiling and
 * its median kernel sum, is shared out per kernel, so that the rows of a network add up to its measured time.
 * Returns key → samples (ms), pooled over repeats and over every place a key occurs.
 */
export async function timeRowsOnOrt(specs: readonly NetworkSpec[], warmup: number, repeats: number, settings: OrtRunSettings = {}): Promise<Map<string, number[]>> {
  const walls = await timeOnnxSpecs(specs, warmup, repeats, settings);
  const dir = mkdtempSync(join(tmpdir(), 'mitosis-ort-profile-'));
  const samples = new Map<string, number[]>();
  try {
    for (const [s, spec] of specs.entries()) {
      const rowKey = new Map<string, string>();
      for (const b of blocksFromSpec(spec)) for (const n of b.fused) rowKey.set(n, canonicalKey(b.op));
      const names = spec.nodes.map((n) => n.name);
      const prefix = join(dir, `net-${s}`);
      const net = await openNet(spec, settings, { enableProfiling: true, profileFilePrefix: prefix });
      try {
        for (let i = 0; i < warmup + repeats; i++) await net.session.run(net.feeds);
        net.session.endProfiling();
      } finally {
        await net.session.release();
      }
      const file = readdirSync(dir).find((f) => f.startsWith(`net-${s}`) && f.endsWith('.json'));
      if (file === undefined) throw new NasError('E_PROFILE_INVALID', `ONNX Runtime wrote no profile for ${spec.name ?? `network ${s}`}`, { dir });
      const events = readKernelEvents(join(dir, file));
      const runs = warmup + repeats;
      if (events.length === 0 || events.length % runs !== 0) {
        throw new NasError('E_PROFILE_INVALID', `ONNX Runtime's profile of ${spec.name ?? `network ${s}`} has ${events.length} kernel events for ${runs} runs`, { file });
      }
      const perRun = events.length / runs;
      // Attribute each kernel position of a run to a row: its own node's row, or (an ORT reorder) the next row.
      const kernelRow: (string | null)[] = events.slice(0, perRun).map((e) => {
        const n = specNodeOfKernel(e.name, names);
        return n === null ? null : (rowKey.get(n) ?? null);
      });
      for (let k = kernelRow.length - 2; k >= 0; k--) if (kernelRow[k] === null) kernelRow[k] = kernelRow[k + 1] ?? null;
      for (let k = 1; k < kernelRow.length; k++) if (kernelRow[k] === null) kernelRow[k] = kernelRow[k - 1] ?? null;
      const kernelSums: number[] = [];
      for (let r = warmup; r < runs; r++) kernelSums.push(events.slice(r * perRun, (r + 1) * perRun).reduce((a, e) => a + e.durUs, 0) / 1000);
      const overheadPerKernel = Math.max(0, median(walls[s]!) - median(kernelSums)) / perRun;
      for (let r = warmup; r < runs; r++) {
        const perKey = new Map<string, number>();
        for (let k = 0; k < perRun; k++) {
          const key = kernelRow[k];
          if (key === null || key === undefined) continue;
          perKey.set(key, (perKey.get(key) ?? 0) + events[r * perRun + k]!.durUs / 1000 + overheadPerKernel);
        }
        for (const [key, ms] of perKey) {
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key)!.push(ms);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return samples;
}

/** Options of {@link runOrtProfiler}. */
export interface OrtProfilerOptions extends OrtRunSettings {
  readonly deviceId: string;
  /** Architectures whose rows are measured; default `sample` architectures of the profiler's small space. */
  readonly space?: readonly NetworkSpec[];
  readonly sample?: number;
  readonly seed?: number;
  readonly warmup: number;
  readonly repeats: number;
  readonly out?: string;
  readonly deviceName?: string;
}

/**
 * Measures every row of a set of architectures on ONNX Runtime's CPU execution provider ({@link timeRowsOnOrt}),
 * fits the fallback predictor to the table, validates and (optionally) writes the profile: the runtime a
 * deployment uses, profiled on any machine with Node.
 */
export async function runOrtProfiler(options: OrtProfilerOptions): Promise<HardwareProfile> {
  const rng = new SeededRandom(options.seed ?? 1);
  const space = options.space ?? Array.from({ length: options.sample ?? 40 }, (_, i) => sampleSmallSpace(rng, `sample-${i}`));
  const rows = await timeRowsOnOrt(space, options.warmup, options.repeats, options);
  const table: Record<string, ProfileEntry> = {};
  for (const key of [...rows.keys()].sort()) {
    const s = rows.get(key)!;
    table[key] = { mean: median(s), std: std(s), count: s.length };
  }
  const threads = options.threads ?? 1;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const version = ort.env.versions.node ?? ort.env.versions.common ?? 'unknown';
  const profile: HardwareProfile = {
    $schema: './schema/hardware-profile.schema.json',
    id: options.deviceId,
    version: 1,
    description: `Measured on this machine (${cpu}) with ONNX Runtime ${version} (CPU execution provider, ${threads} thread${threads === 1 ? '' : 's'}), batch 1, layer by layer.`,
    device: { name: options.deviceName ?? `${cpu} (${cpus().length} logical cores)`, class: 'cpu', processor: cpu },
    runtime: { name: 'onnxruntime-node (CPU execution provider)', version },
    precision: 'fp32',
    batchSize: 1,
    granularity: 'layer',
    estimated: false,
    units: { latency: 'ms' },
    measurement: {
      statistic: 'median',
      threads,
      warmup: options.warmup,
      repeats: options.repeats,
      frequencyPinned: null,
      notes:
        `Rows timed in context on ONNX Runtime (intra-op threads ${threads}, inter-op 1, sequential execution, graph ` +
        `optimisation ${options.optimization ?? 'all'}): each sampled architecture is exported by mitosis and run whole with ` +
        `ORT's kernel profiler; a row (conv+BN+act etc.) is the sum of its kernels, layout reorders ORT inserts go to the ` +
        `next row, and the gap between the median unprofiled wall time and the kernel sum is shared out per kernel. Median ` +
        `over ${options.repeats} runs × occurrences after ${options.warmup} warm-up runs. Node ${process.version}; CPU ` +
        `shared with other processes, frequency not pinned.`,
    },
    table,
    fallback: fitTableFallback(table),
    provenance: {
      source: `runOrtProfiler on this machine (${space.length} architectures, ${Object.keys(table).length} ops, seed ${options.seed ?? 1})`,
      license: 'Apache-2.0 (generated by mitosis)',
      generatedBy: 'packages/deploy runOrtProfiler',
      date: new Date().toISOString().slice(0, 10),
    },
  };
  const valid = validateProfile(profile, options.out ?? options.deviceId);
  if (options.out !== undefined) writeFileSync(options.out, `${JSON.stringify(valid, null, 1)}\n`);
  return valid;
}

/** Options of {@link validateOrtProfile}. */
export interface ValidateOrtOptions extends OrtRunSettings {
  readonly profile: string | HardwareProfile;
  readonly count?: number;
  /** Default 1234, not the profiler's default seed, so that some rows are new to the table. */
  readonly seed?: number;
  readonly warmup?: number;
  readonly repeats?: number;
}

/**
 * Benchmark: whole-network ONNX Runtime latency of random small-space architectures measured here against the
 * profile's prediction (sum of rows): Kendall's τ and the median absolute % error (targets τ ≥ 0.8, ≤ 15 %).
 */
export async function validateOrtProfile(options: ValidateOrtOptions): Promise<LocalValidation> {
  const model = new LatencyCostModel({ profile: options.profile });
  const rng = new SeededRandom(options.seed ?? 1234);
  const specs = Array.from({ length: options.count ?? 30 }, (_, i) => sampleSmallSpace(rng, `check-${i}`));
  const walls = await timeOnnxSpecs(specs, options.warmup ?? 5, options.repeats ?? 20, options);
  const nets = specs.map((spec, i) => {
    const estimate = model.estimate(spec);
    return {
      name: spec.name ?? `check-${i}`,
      measuredMs: median(walls[i]!),
      predictedMs: estimate.total ?? Number.NaN,
      predictedRows: estimate.layers.filter((l) => l.source !== 'lut').length,
      rows: estimate.layers.length,
    };
  });
  const measured = nets.map((n) => n.measuredMs);
  const predicted = nets.map((n) => n.predictedMs);
  return { kendallTau: kendallTau(measured, predicted), medianAbsPctError: medianAbsPctError(measured, predicted), nets };
}
