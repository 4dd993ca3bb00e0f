import { SeededRandom } from '@mitosis/core';
import { useBackend, type BackendPreference } from '@mitosis/engine';
import { LatencyCostModel } from '../cost/cost-models.js';
import type { HardwareProfile } from '../profile/hardware-profile.js';
import { timeSpecs } from './profiler.js';
import { sampleSmallSpace } from './small-space.js';

/** Kendall's τ-b between two equally long series (ties handled); NaN when fewer than two pairs. */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA += 1;
      else if (db === 0) tiesB += 1;
      else if (da === db) concordant += 1;
      else discordant += 1;
    }
  }
  const n0 = concordant + discordant;
  return (concordant - discordant) / Math.sqrt((n0 + tiesA) * (n0 + tiesB));
}

/** Median absolute percentage error of `predicted` against `measured`, in %. */
export function medianAbsPctError(measured: readonly number[], predicted: readonly number[]): number {
  const e = measured.map((m, i) => (100 * Math.abs(predicted[i]! - m)) / m).sort((x, y) => x - y);
  const mid = e.length >> 1;
  return e.length % 2 === 1 ? e[mid]! : (e[mid - 1]! + e[mid]!) / 2;
}

export interface ValidateLocalOptions {
  /** The profile to check (default the shipped `local`). */
  readonly profile?: string | HardwareProfile;
  /** Architectures drawn from the small space (default 30). */
  readonly count?: number;
  /** Default 1234, different from the profiler's default seed so that some keys are new to the table. */
  readonly seed?: number;
  readonly warmup?: number;
  readonly repeats?: number;
  readonly backend?: BackendPreference;
}

export interface LocalValidation {
  readonly kendallTau: number;
  /** % */
  readonly medianAbsPctError: number;
  readonly nets: readonly {
    readonly name: string;
    readonly measuredMs: number;
    readonly predictedMs: number;
    /** Rows priced by the fallback rather than the table. */
    readonly predictedRows: number;
    readonly rows: number;
  }[];
}

/**
 * Benchmark: whole-network latency of random small-space architectures measured on this machine (median of
 * `repeats` after `warmup`, round robin, engine forward, batch 1) against the profile's prediction (sum of rows). Reports
 * Kendall's τ and the median absolute % error. Targets: τ ≥ 0.8, MdAPE ≤ 15%.
 */
export async function validateLocalProfile(options: ValidateLocalOptions = {}): Promise<LocalValidation> {
  await useBackend(options.backend ?? 'wasm');
  const model = new LatencyCostModel({ profile: options.profile ?? 'local' });
  const rng = new SeededRandom(options.seed ?? 1234);
  const specs = Array.from({ length: options.count ?? 30 }, (_, i) => sampleSmallSpace(rng, `check-${i}`));
  const timings = timeSpecs(specs, options.warmup ?? 3, options.repeats ?? 10);
  const nets = specs.map((spec, i) => {
    const estimate = model.estimate(spec);
    return {
      name: spec.name ?? `check-${i}`,
      measuredMs: timings[i]!.median,
      predictedMs: estimate.total ?? Number.NaN,
      predictedRows: estimate.layers.filter((l) => l.source !== 'lut').length,
      rows: estimate.layers.length,
    };
  });
  const measured = nets.map((n) => n.measuredMs);
  const predicted = nets.map((n) => n.predictedMs);
  return { kendallTau: kendallTau(measured, predicted), medianAbsPctError: medianAbsPctError(measured, predicted), nets };
}
