import type { Command } from 'commander';
import { SeededRandom, readJsonFile, type NetworkSpec } from '@mitosis/core';
import { loadModelSource } from '@mitosis/engine';
import { loadSearchSpace, methodLayers } from '@mitosis/growth';
import { MacsCostModel, isOfaNetConfig, priceNetwork, runProfiler, validateLocalProfile } from '@mitosis/hardware';
import { widenSpec } from '@mitosis/ir';
import { runOrtProfiler, validateOrtProfile } from '@mitosis/deploy';
import { NasError } from '@mitosis/core';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { integerFlag } from '../flags.js';
import { emit, type GlobalOptions, type Io } from '../io.js';
import { backendOption } from './train.js';

/** A LayersModel directory / model.json or a network spec → spec; an OFA net_config JSON is passed through. */
async function readPriceable(path: string): Promise<unknown> {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'model.json') : path;
  const doc = readJsonFile(file);
  if (isOfaNetConfig(doc)) return doc;
  const nested = (doc as { net_config?: unknown }).net_config;
  if (isOfaNetConfig(nested)) return nested;
  if ((doc as { format?: unknown }).format === 'mitosis-search-space') return loadSearchSpace(file).space.seed;
  return (await loadModelSource(path, 0)).spec;
}

/** Counts with thousands separators; small values with `digits` significant digits (never "0" for a non-zero value). */
const fmt = (v: number | null, digits = 4): string => {
  if (v === null) return 'n/a';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(digits)));
};

/** `mitosis cost`: MACs, params, latency and energy of a network on a device profile, per layer. */
export function registerCostCommand(program: Command, io: Io): void {
  program
    .command('cost')
    .description('price a network: MACs, params, and latency/energy on a hardware profile, with a per-layer breakdown')
    .requiredOption('--model <path>', 'LayersModel directory, mitosis network spec, search space (its seed) or OFA net_config JSON')
    .option('--profile <id|file>', 'hardware profile (see hardware-profiles/); without one, latency and energy are null')
    .option('--resolution <n>', 'input resolution (required for an OFA net_config; replaces a spec\'s input size)')
    .action(async (flags: { model: string; profile?: string; resolution?: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const resolution = flags.resolution === undefined ? undefined : integerFlag('--resolution', flags.resolution, 1);
      const priced = priceNetwork({
        model: await readPriceable(flags.model),
        ...(flags.profile === undefined ? {} : { profile: flags.profile }),
        ...(resolution === undefined ? {} : { resolution }),
      });
      emit(io, options, priced, () => {
        const noEnergy =
          priced.device === null ? 'n/a (no profile)' : priced.energyMj === null ? 'n/a (the profile has no energy model for every layer)' : `${fmt(priced.energyMj)} mJ`;
        const lines = [
          `${flags.model}${priced.device ? ` on ${priced.device}` : ''}${priced.resolution ? ` at ${priced.resolution}px` : ''}`,
          `  MACs ${fmt(priced.macs, 6)}, params ${fmt(priced.params, 6)}, latency ${priced.device === null ? 'n/a (no profile)' : `${fmt(priced.latencyMs)} ms`}, energy ${noEnergy}`,
          `  ${'layer'.padEnd(22)} ${'MACs'.padStart(14)} ${'latency ms'.padStart(12)} ${'source'.padEnd(10)} ${'energy mJ'.padStart(11)}  fused with`,
        ];
        for (const l of priced.layers) {
          const fused = l.fused.filter((f) => f !== l.node);
          lines.push(
            `  ${l.node.padEnd(22)} ${fmt(l.macs, 6).padStart(14)} ${fmt(l.latencyMs).padStart(12)} ${(l.latencySource ?? '—').padEnd(10)} ${fmt(l.energyMj).padStart(11)}  ${fused.length === 0 ? '—' : fused.join(', ')}`,
          );
        }
        return `${lines.join('\n')}\n`;
      });
    });
}

/** Architectures of a search space for profiling: the seed and variants with every growable layer widened at random up to its cap. */
function spaceVariants(ref: string, count: number, seed: number): NetworkSpec[] {
  const { space } = loadSearchSpace(ref);
  const rng = new SeededRandom(seed);
  const out: NetworkSpec[] = [space.seed];
  const layers = methodLayers(space, space.seed, new MacsCostModel());
  for (let i = 1; i < count; i++) {
    let spec = space.seed;
    for (const l of layers) {
      const room = (l.cap ?? 2 * l.width) - l.width;
      const extra = Math.floor(rng.next() * (room + 1));
      if (extra > 0) spec = widenSpec(spec, l.node, extra);
    }
    out.push(spec);
  }
  return out;
}

function runtimeOption(value: string): 'tfjs' | 'onnxruntime' {
  if (value === 'tfjs' || value === 'onnxruntime') return value;
  throw new NasError('E_USAGE', `--runtime must be tfjs or onnxruntime, got "${value}"`, { flag: '--runtime', value });
}

/** `mitosis profile`: measure this machine's TF.js backend op by op into a hardware profile. */
export function registerProfileCommand(program: Command, io: Io): void {
  program
    .command('profile')
    .description('measure op by op (warm-up, repeats, median, std) on the TF.js backend or on ONNX Runtime, and write a hardware profile')
    .requiredOption('--device-id <id>', 'profile id (kebab-case; also the file stem)')
    .requiredOption('--out <file>', 'where to write the profile JSON')
    .option('--space <id|file>', 'measure the ops of this search space (seed and widened variants) instead of a sampled set')
    .option('--variants <n>', 'architectures drawn from the space', '12')
    .option('--warmup <n>', 'untimed runs per op', '3')
    .option('--repeats <n>', 'timed runs per op (onnxruntime: 40 unless given)', '15')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu (TF.js runtime)', 'wasm')
    .option('--runtime <name>', 'tfjs (the --backend) or onnxruntime (CPU execution provider, the runtime of an exported model.onnx)', 'tfjs')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (recorded in the profile)', '1')
    .action(async (flags: { deviceId: string; out: string; space?: string; variants: string; warmup: string; repeats: string; backend: string; runtime: string; threads: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const runtime = runtimeOption(flags.runtime);
      const space = flags.space === undefined ? undefined : spaceVariants(flags.space, integerFlag('--variants', flags.variants, 1), 1);
      if (runtime === 'onnxruntime') {
        const profile = await runOrtProfiler({
          deviceId: flags.deviceId,
          out: flags.out,
          warmup: integerFlag('--warmup', flags.warmup),
          // ORT runs of these small networks take tenths of a millisecond: more repeats steady the medians on a shared CPU.
          repeats: command.getOptionValueSource('repeats') === 'default' ? 40 : integerFlag('--repeats', flags.repeats, 1),
          threads: integerFlag('--threads', flags.threads, 1),
          ...(space === undefined ? {} : { space }),
        });
        const keys = Object.keys(profile.table).length;
        emit(io, options, { file: flags.out, id: profile.id, runtime: profile.runtime, threads: profile.measurement.threads ?? null, keys }, () => `wrote ${flags.out}: ${keys} ops measured on ${profile.runtime.name} ${profile.runtime.version ?? ''} (${profile.measurement.threads} thread(s)) and a fitted fallback predictor\n`);
        return;
      }
      const profile = await runProfiler({
        deviceId: flags.deviceId,
        out: flags.out,
        warmup: integerFlag('--warmup', flags.warmup),
        repeats: integerFlag('--repeats', flags.repeats, 1),
        backend: backendOption(flags.backend),
        ...(space === undefined ? {} : { space }),
      });
      const keys = Object.keys(profile.table).length;
      emit(io, options, { file: flags.out, id: profile.id, keys, fallback: profile.fallback ?? null }, () => `wrote ${flags.out}: ${keys} measured ops and a fitted fallback predictor\n`);
    });
}

/** `mitosis bench profile`: how well a profile predicts whole-network latency measured here. */
export function registerBenchProfileCommand(bench: Command, io: Io): void {
  bench
    .command('profile')
    .description('whole-network latency of random architectures measured here vs predicted by a profile (Kendall τ, MdAPE)')
    .option('--profile <id|file>', 'profile to check (made on this machine)', 'local')
    .option('--count <n>', 'random architectures', '30')
    .option('--repeats <n>', 'timed runs per network (onnxruntime: 40 unless given)', '15')
    .option('--runtime <name>', 'where to measure: tfjs (wasm) or onnxruntime (CPU execution provider)', 'tfjs')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', '1')
    .action(async (flags: { profile: string; count: string; repeats: string; runtime: string; threads: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const count = integerFlag('--count', flags.count, 2);
      const ort = runtimeOption(flags.runtime) === 'onnxruntime';
      const repeats = ort && command.getOptionValueSource('repeats') === 'default' ? 40 : integerFlag('--repeats', flags.repeats, 1);
      const r =
        runtimeOption(flags.runtime) === 'onnxruntime'
          ? await validateOrtProfile({ profile: flags.profile, count, repeats, threads: integerFlag('--threads', flags.threads, 1) })
          : await validateLocalProfile({ profile: flags.profile, count, repeats });
      emit(io, options, r, () => `${flags.profile}: Kendall τ ${r.kendallTau.toFixed(3)}, median absolute error ${r.medianAbsPctError.toFixed(1)}% over ${r.nets.length} networks\n`);
    });
}
