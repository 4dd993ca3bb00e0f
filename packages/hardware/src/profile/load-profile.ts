import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigValidationError, NasError, cloneJson, readJsonFile, validateAgainst, type ConfigProblem } from '@mitosis/core';
import { OP_KINDS, parseCanonicalKey, type OpDescriptor, type OpKind } from '../ops/op-key.js';
import { coefficientNameProblem, compileFallback, type CompiledFallback } from '../predictor/fallback-predictor.js';
import { hardwareProfileSchema, type HardwareProfile, type ProfileEntry, type ProfileFallback } from './hardware-profile.js';

/** Escapes one JSON-pointer token (RFC 6901). */
export function pointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Features of two ops (a 3×3 convolution, 16→32 channels at 16×16, and a 128→10 dense layer) for trial evaluations. */
const TRIAL_FEATURES: readonly Readonly<Record<string, number>>[] = [
  { macs: 1_179_648, params: 4640, inBytes: 16_384, outBytes: 32_768, kernel: 3, stride: 1, cin: 16, cout: 32, h: 16, w: 16 },
  { macs: 1280, params: 1290, inBytes: 512, outBytes: 40, kernel: 1, stride: 1, cin: 128, cout: 10, h: 1, w: 1 },
];

function semanticProblems(profile: HardwareProfile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const checkTable = (table: Readonly<Record<string, ProfileEntry>>, base: string): void => {
    for (const key of Object.keys(table)) {
      try {
        parseCanonicalKey(key);
      } catch (error) {
        if (!NasError.is(error)) throw error;
        problems.push({ pointer: `${base}/${pointerToken(key)}`, message: error.message });
      }
    }
  };
  checkTable(profile.table, '/table');
  for (const [res, table] of Object.entries(profile.resolutionOverrides ?? {})) {
    checkTable(table, `/resolutionOverrides/${res}`);
  }
  if (profile.energy?.table) checkTable(profile.energy.table, '/energy/table');
  const checkFallback = (f: ProfileFallback, base: string, extra: readonly string[] = []): void => {
    const badNames = Object.keys(f.coefficients).flatMap((name) => {
      const problem = coefficientNameProblem(name, extra);
      return problem === null ? [] : [{ pointer: `${base}/coefficients/${pointerToken(name)}`, message: `"${name}" ${problem}` }];
    });
    if (badNames.length > 0) {
      problems.push(...badNames);
      return;
    }
    try {
      const compiled = compileFallback(f.expression, `${base}/expression`, new Set(Object.keys(f.coefficients)), extra);
      let finite = true;
      for (const name of compiled.coefficientNames) {
        if (!Number.isFinite(f.coefficients[name])) {
          problems.push({ pointer: `${base}/coefficients/${pointerToken(name)}`, message: 'must be a finite number' });
          finite = false;
        }
      }
      // A trial evaluation, as pricing will do it: "valid" means usable.
      if (finite) for (const features of TRIAL_FEATURES) compiled.evaluate({ ...features, ...(extra.includes('latencyMs') ? { latencyMs: 0.1 } : {}) }, f.coefficients);
    } catch (error) {
      if (!NasError.is(error)) throw error;
      problems.push({ pointer: `${base}/expression`, message: error.message });
    }
  };
  if (profile.fallback) {
    checkFallback(profile.fallback, '/fallback');
    for (const [kind, f] of Object.entries(profile.fallback.byOp ?? {})) {
      if (!OP_KINDS.includes(kind as OpKind)) {
        problems.push({ pointer: `/fallback/byOp/${kind}`, message: `unknown op (known: ${OP_KINDS.join(', ')})` });
      } else if (f) {
        checkFallback(f, `/fallback/byOp/${kind}`);
      }
    }
  }
  if (profile.energy?.model) checkFallback(profile.energy.model, '/energy/model', ['latencyMs']);
  if (profile.energy && !profile.units.energy) {
    problems.push({ pointer: '/units/energy', message: 'is required when the profile has energy data' });
  }
  if (profile.estimated && !profile.fallback) {
    problems.push({ pointer: '/fallback', message: 'is required in an estimated profile' });
  }
  return problems;
}

/**
 * Validates a parsed profile document: the JSON Schema (ajv via core's `validateAgainst`), then every key
 * (canonical form, known op), every expression (mathjs parse, known symbols only, coefficients present).
 * Throws `E_PROFILE_INVALID` (a `ConfigValidationError`) listing every problem with its JSON pointer.
 * Returns a deep copy.
 */
export function validateProfile(json: unknown, source: string): HardwareProfile {
  const copy: unknown = cloneJson(json, source, 'E_PROFILE_INVALID');
  const profile = validateAgainst<HardwareProfile>(hardwareProfileSchema, copy, {
    source,
    what: 'hardware profile',
    code: 'E_PROFILE_INVALID',
  });
  const problems = semanticProblems(profile);
  if (problems.length > 0) throw new ConfigValidationError(source, problems, 'hardware profile', 'E_PROFILE_INVALID');
  return profile;
}

/** The `hardware-profiles/` folder shipped at the repository root. */
export function shippedProfileDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../../hardware-profiles');
}

/** Ids of the shipped profiles, sorted. */
export function shippedProfileIds(): string[] {
  const dir = shippedProfileDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/**
 * Loads a profile by shipped id (`note10-cpu`) or by path (anything ending in `.json` or containing a path
 * separator). The document's `id` must equal the file stem. Errors: `E_CONFIG_READ` (missing/unparsable
 * file), `E_PROFILE_INVALID` (with pointers), `E_PLUGIN_UNKNOWN`-style listing for an unknown id.
 */
export function loadProfile(idOrPath: string): HardwareProfile {
  const isPath = idOrPath.endsWith('.json') || idOrPath.includes('/') || idOrPath.includes('\\');
  const file = isPath ? idOrPath : join(shippedProfileDir(), `${idOrPath}.json`);
  if (!isPath && !existsSync(file)) {
    const known = shippedProfileIds();
    throw new NasError(
      'E_PROFILE_INVALID',
      `Unknown hardware profile "${idOrPath}" (shipped: ${known.join(', ') || 'none'}); or pass a path to a .json profile`,
      { profile: idOrPath, known },
    );
  }
  const profile = validateProfile(readJsonFile(file), file);
  const stem = basename(file, '.json');
  if (profile.id !== stem) {
    throw new ConfigValidationError(
      file,
      [{ pointer: '/id', message: `must equal the file stem "${stem}" (is "${profile.id}")` }],
      'hardware profile',
      'E_PROFILE_INVALID',
    );
  }
  return profile;
}

const LATENCY_TO_MS = { ms: 1, us: 1e-3 } as const;
const ENERGY_TO_MJ = { mJ: 1, uJ: 1e-3 } as const;

/** A table lookup or fallback result, already converted to ms (latency) or mJ (energy). */
export interface ProfileValue {
  readonly value: number;
  readonly source: 'lut' | 'predicted' | 'estimated';
  readonly std?: number;
}

function bytesPer(precision: HardwareProfile['precision']): number {
  return precision === 'fp32' ? 4 : precision === 'fp16' ? 2 : 1;
}

/**
 * A validated profile prepared for pricing: maps instead of records, units normalised to ms and mJ,
 * expressions compiled once. Pure lookups afterwards; cheap enough to call per candidate.
 */
export class ResolvedProfile {
  readonly id: string;
  readonly bytesPerElement: number;
  private readonly table: Map<string, ProfileEntry>;
  private readonly overrides: Map<number, Map<string, ProfileEntry>>;
  private readonly energyTable: Map<string, ProfileEntry>;
  private readonly fallback: { compiled: CompiledFallback; coefficients: Readonly<Record<string, number>> } | null;
  private readonly byOp = new Map<OpKind, { compiled: CompiledFallback; coefficients: Readonly<Record<string, number>> }>();
  private readonly energyModel: { compiled: CompiledFallback; coefficients: Readonly<Record<string, number>> } | null;
  private readonly latencyScale: number;
  private readonly energyScale: number;

  /** `source`: the profile's file, named in evaluation errors. */
  constructor(
    readonly profile: HardwareProfile,
    readonly source?: string,
  ) {
    this.id = profile.id;
    this.bytesPerElement = bytesPer(profile.precision);
    this.latencyScale = LATENCY_TO_MS[profile.units.latency];
    this.energyScale = ENERGY_TO_MJ[profile.units.energy ?? 'mJ'];
    this.table = new Map(Object.entries(profile.table));
    this.overrides = new Map(
      Object.entries(profile.resolutionOverrides ?? {}).map(([r, t]) => [Number(r), new Map(Object.entries(t))]),
    );
    this.energyTable = new Map(Object.entries(profile.energy?.table ?? {}));
    const prep = (f: ProfileFallback, pointer: string, extra: readonly string[] = []) => ({
      compiled: compileFallback(f.expression, pointer, new Set(Object.keys(f.coefficients)), extra, source ?? `profile "${profile.id}"`),
      coefficients: f.coefficients,
    });
    this.fallback = profile.fallback ? prep(profile.fallback, '/fallback/expression') : null;
    for (const [kind, f] of Object.entries(profile.fallback?.byOp ?? {})) {
      if (f) this.byOp.set(kind as OpKind, prep(f, `/fallback/byOp/${kind}/expression`));
    }
    this.energyModel = profile.energy?.model ? prep(profile.energy.model, '/energy/model/expression', ['latencyMs']) : null;
  }

  /** True when the profile has energy data of any kind. */
  get hasEnergy(): boolean {
    return this.energyTable.size > 0 || this.energyModel !== null;
  }

  /** The table entry for `key` at network input `resolution` (overrides first), in ms; undefined on a miss. */
  lookupLatency(key: string, resolution?: number): ProfileValue | undefined {
    const entry = (resolution === undefined ? undefined : this.overrides.get(resolution)?.get(key)) ?? this.table.get(key);
    if (entry === undefined) return undefined;
    return {
      value: entry.mean * this.latencyScale,
      source: this.profile.estimated ? 'estimated' : 'lut',
      ...(entry.std === undefined ? {} : { std: entry.std * this.latencyScale }),
    };
  }

  /**
   * Latency in ms of an op the table lacks, from the fallback predictor (clamped at 0); `source` is
   * `predicted`, or `estimated` in an estimated profile. Undefined when the profile has no fallback.
   */
  predictLatency(op: OpDescriptor, features: Readonly<Record<string, number>>): ProfileValue | undefined {
    const f = this.byOp.get(op.kind) ?? this.fallback;
    if (f === null) return undefined;
    const raw = f.compiled.evaluate(features, f.coefficients);
    if (!Number.isFinite(raw)) return undefined;
    return { value: Math.max(0, raw) * this.latencyScale, source: this.profile.estimated ? 'estimated' : 'predicted' };
  }

  /** Energy in mJ: the energy table first, then the energy model (given the op's latency in ms). */
  energy(key: string, features: Readonly<Record<string, number>>, latencyMs: number | null): ProfileValue | undefined {
    const entry = this.energyTable.get(key);
    if (entry !== undefined) {
      return { value: entry.mean * this.energyScale, source: this.profile.estimated ? 'estimated' : 'lut' };
    }
    if (this.energyModel === null || latencyMs === null) return undefined;
    const raw = this.energyModel.compiled.evaluate({ ...features, latencyMs }, this.energyModel.coefficients);
    if (!Number.isFinite(raw)) return undefined;
    // A model fitted to data (it carries `quality`) predicts; hand-set coefficients (an assumed power) estimate.
    const fitted = this.profile.energy?.model?.quality !== undefined;
    return { value: Math.max(0, raw) * this.energyScale, source: this.profile.estimated || !fitted ? 'estimated' : 'predicted' };
  }
}

const resolvedCache = new Map<string, { mtimeMs: number; resolved: ResolvedProfile }>();

/**
 * {@link loadProfile} or an in-memory profile (validated), resolved for pricing. Profiles named by id or path
 * are cached per file and modification time, so repeated pricing does not re-validate them.
 */
export function resolveProfile(profile: string | HardwareProfile | ResolvedProfile): ResolvedProfile {
  if (profile instanceof ResolvedProfile) return profile;
  if (typeof profile === 'string') {
    const isPath = profile.endsWith('.json') || profile.includes('/') || profile.includes('\\');
    const file = resolve(isPath ? profile : join(shippedProfileDir(), `${profile}.json`));
    const mtimeMs = existsSync(file) ? statSync(file).mtimeMs : -1;
    const cached = resolvedCache.get(file);
    if (cached !== undefined && cached.mtimeMs === mtimeMs) return cached.resolved;
    const resolved = new ResolvedProfile(loadProfile(profile), file);
    resolvedCache.set(file, { mtimeMs, resolved });
    return resolved;
  }
  return new ResolvedProfile(validateProfile(profile, `profile "${profile.id}"`));
}
