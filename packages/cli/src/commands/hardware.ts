import type { Command } from 'commander';
import { SeededRandom, readJsonFile, type NetworkSpec } from '@mitosis/core';
import { loadModelSource } from '@mitosis/engine';
import { loadSearchSpace, methodLayers } from '@mitosis/growth';
import { MacsCostModel, isOfaNetConfig, priceNetwork, runProfiler, validateLocalProfile } from '@mitosis/hardware';
import { widenSpec } from '@mitosis/ir';
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

const fmt = (v: number | null, digits = 4): string => (v === null ? 'n/a' : Number(v.toPrecision(digits)).toLocaleString('en-US'));

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
        const lines = [
          `${flags.model}${priced.device ? ` on ${priced.device}` : ''}${priced.resolution ? ` at ${priced.resolution}px` : ''}`,
          `  MACs ${fmt(priced.macs, 6)}, params ${fmt(priced.params, 6)}, latency ${fmt(priced.latencyMs)} ms, energy ${fmt(priced.energyMj)} mJ`,
        ];
        for (const l of priced.layers) {
          lines.push(`  ${l.node.padEnd(22)} ${fmt(l.macs, 6).padStart(14)} MACs  ${fmt(l.latencyMs).padStart(9)} ms ${l.latencySource ?? ''}`);
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

/** `mitosis profile`: measure this machine's TF.js backend op by op into a hardware profile. */
export function registerProfileCommand(program: Command, io: Io): void {
  program
    .command('profile')
    .description('measure the current TF.js backend op by op (warm-up, repeats, median, std) and write a hardware profile')
    .requiredOption('--device-id <id>', 'profile id (kebab-case; also the file stem)')
    .requiredOption('--out <file>', 'where to write the profile JSON')
    .option('--space <id|file>', 'measure the ops of this search space (seed and widened variants) instead of a sampled set')
    .option('--variants <n>', 'architectures drawn from the space', '12')
    .option('--warmup <n>', 'untimed runs per op', '3')
    .option('--repeats <n>', 'timed runs per op', '15')
    .option('--backend <name>', 'auto | tensorflow | wasm | cpu', 'wasm')
    .action(async (flags: { deviceId: string; out: string; space?: string; variants: string; warmup: string; repeats: string; backend: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const profile = await runProfiler({
        deviceId: flags.deviceId,
        out: flags.out,
        warmup: integerFlag('--warmup', flags.warmup),
        repeats: integerFlag('--repeats', flags.repeats, 1),
        backend: backendOption(flags.backend),
        ...(flags.space === undefined ? {} : { space: spaceVariants(flags.space, integerFlag('--variants', flags.variants, 1), 1) }),
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
    .option('--repeats <n>', 'timed runs per network', '15')
    .action(async (flags: { profile: string; count: string; repeats: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const r = await validateLocalProfile({ profile: flags.profile, count: integerFlag('--count', flags.count, 2), repeats: integerFlag('--repeats', flags.repeats, 1) });
      emit(io, options, r, () => `${flags.profile}: Kendall τ ${r.kendallTau.toFixed(3)}, median absolute error ${r.medianAbsPctError.toFixed(1)}% over ${r.nets.length} networks\n`);
    });
}
