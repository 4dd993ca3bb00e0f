import { NasError } from '@mitosis/core';
import { canonicalKey, type OpDescriptor } from '../ops/op-key.js';
import type { ProfileEntry } from '../profile/hardware-profile.js';

/** A row of a published table: OFA YAML stores `mean`, `std`, `count`; ProxylessNAS stores `mean`, `var`, `count`. */
export interface SourceEntry {
  readonly mean: number;
  readonly std?: number;
  readonly var?: number;
  readonly count?: number;
}

function keyError(key: string, why: string): NasError {
  return new NasError('E_PROFILE_INVALID', `Cannot import LUT key "${key}": ${why}`, { key });
}

function shape(key: string, text: string | undefined): number[] {
  if (text === undefined || !/^\d+(x\d+)*$/.test(text)) throw keyError(key, `bad shape "${text ?? ''}"`);
  return text.split('x').map(Number);
}

/**
 * Converts an OFA / ProxylessNAS LUT key (`<op>-input:HxWxC-output:HxWxC[-expand:E-kernel:K-stride:S-idskip:0|1
 * [-se:0|1-hs:0|1]]`) into the canonical key. `expand` is the absolute middle width in OFA's tables
 * (`format: 'ofa'`) but the expansion ratio in ProxylessNAS's `mobile_trim.yaml` (`format: 'proxyless'`).
 * Op names: `Conv` (first 3×3 stride-2 conv), `expanded_conv` (MBConv), `Conv_1` (1×1 final expand / feature
 * mix), `AvgPool2D` (global pooling), `Conv_2` (OFA's 1×1 feature mix on 1×1), `Logits` (OFA: FC on 1×1;
 * ProxylessNAS: global pooling + FC).
 */
export function convertOfaKey(key: string, format: 'ofa' | 'proxyless'): string {
  const [opName, ...rest] = key.split('-');
  const f = new Map<string, string>();
  for (const part of rest) {
    const i = part.indexOf(':');
    if (i <= 0) throw keyError(key, `field "${part}" is not name:value`);
    f.set(part.slice(0, i), part.slice(i + 1));
  }
  const input = shape(key, f.get('input'));
  const output = shape(key, f.get('output'));
  const int = (name: string, fallback?: number): number => {
    const v = f.get(name);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw keyError(key, `missing field "${name}"`);
    }
    if (!/^\d+$/.test(v)) throw keyError(key, `field "${name}" is not an integer`);
    return Number(v);
  };
  let op: OpDescriptor;
  switch (opName) {
    case 'Conv':
      op = { kind: 'conv2d', input, output, attrs: { kernel: 3, stride: Math.round(input[0]! / output[0]!), groups: 1 } };
      break;
    case 'Conv_1':
    case 'Conv_2':
      op = { kind: 'conv2d', input, output, attrs: { kernel: 1, stride: 1, groups: 1 } };
      break;
    case 'AvgPool2D':
      op = { kind: 'gap', input, output: [output[output.length - 1]!], attrs: {} };
      break;
    case 'Logits':
      op =
        input[0] === 1 && input[1] === 1
          ? { kind: 'dense', input: [input[2]!], output, attrs: {} }
          : { kind: 'classifier', input, output, attrs: {} };
      break;
    case 'expanded_conv': {
      const expand = int('expand');
      const mid = format === 'ofa' ? expand : expand * input[2]!;
      op = {
        kind: 'mbconv',
        input,
        output,
        attrs: { mid, kernel: int('kernel'), stride: int('stride'), groups: 1, skip: int('idskip'), se: int('se', 0), hs: int('hs', 0) },
      };
      break;
    }
    default:
      throw keyError(key, `unknown op "${opName ?? ''}" (Conv, expanded_conv, Conv_1, AvgPool2D, Conv_2, Logits)`);
  }
  return canonicalKey(op);
}

/** Table entry from a source row (variance becomes a standard deviation). */
export function toProfileEntry(row: SourceEntry): ProfileEntry {
  const std = row.std ?? (row.var === undefined ? undefined : Math.sqrt(row.var));
  return { mean: row.mean, ...(std === undefined ? {} : { std }), ...(row.count === undefined ? {} : { count: row.count }) };
}

/**
 * Imports OFA-format tables measured per input resolution (`{ "160": { key: row }, … }`) into one canonical
 * `table` plus `resolutionOverrides`. A key present at several resolutions with different values (OFA measured
 * the head ops once per resolution) goes into the table with pooled statistics (count-weighted mean, pooled
 * variance) and, per resolution, into the overrides so that pricing at that resolution reproduces the source exactly.
 */
export function importOfaTables(
  tables: Readonly<Record<string, Readonly<Record<string, SourceEntry>>>>,
  format: 'ofa' | 'proxyless',
): { table: Record<string, ProfileEntry>; resolutionOverrides: Record<string, Record<string, ProfileEntry>> } {
  const byKey = new Map<string, { res: string; entry: ProfileEntry }[]>();
  for (const [res, rows] of Object.entries(tables)) {
    for (const [sourceKey, row] of Object.entries(rows)) {
      const key = convertOfaKey(sourceKey, format);
      if (!byKey.has(key)) byKey.set(key, []);
      byKey.get(key)!.push({ res, entry: toProfileEntry(row) });
    }
  }
  const table: Record<string, ProfileEntry> = {};
  const resolutionOverrides: Record<string, Record<string, ProfileEntry>> = {};
  for (const [key, seen] of [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (seen.length === 1 || seen.every((s) => s.entry.mean === seen[0]!.entry.mean)) {
      table[key] = seen[0]!.entry;
      continue;
    }
    const n = seen.map((s) => s.entry.count ?? 1);
    const total = n.reduce((a, b) => a + b, 0);
    const mean = seen.reduce((acc, s, i) => acc + n[i]! * s.entry.mean, 0) / total;
    const second = seen.reduce((acc, s, i) => acc + n[i]! * ((s.entry.std ?? 0) ** 2 + s.entry.mean ** 2), 0) / total;
    table[key] = { mean, std: Math.sqrt(Math.max(0, second - mean * mean)), count: total };
    for (const s of seen) {
      resolutionOverrides[s.res] ??= {};
      resolutionOverrides[s.res]![key] = s.entry;
    }
  }
  return { table, resolutionOverrides };
}

const FBNET_PATTERNS: readonly [RegExp, (m: number[]) => OpDescriptor][] = [
  [
    /^ConvNorm_H(\d+)_W(\d+)_Cin(\d+)_Cout(\d+)_kernel(\d+)_stride(\d+)_group(\d+)$/,
    ([h, w, ci, co, k, s, g]) => ({
      kind: 'conv2d',
      input: [h!, w!, ci!],
      output: [Math.ceil(h! / s!), Math.ceil(w! / s!), co!],
      attrs: { kernel: k!, stride: s!, groups: g! },
    }),
  ],
  [
    /^ConvBlock_H(\d+)_W(\d+)_Cin(\d+)_Cout(\d+)_exp(\d+)_kernel(\d+)_stride(\d+)_group(\d+)$/,
    ([h, w, ci, co, e, k, s, g]) => ({
      kind: 'convblock',
      input: [h!, w!, ci!],
      output: [Math.ceil(h! / s!), Math.ceil(w! / s!), co!],
      attrs: { mid: ci! * e!, kernel: k!, stride: s!, groups: g!, skip: ci === co && s === 1 ? 1 : 0 },
    }),
  ],
  [
    /^Skip_H(\d+)_W(\d+)_Cin(\d+)_Cout(\d+)_stride(\d+)$/,
    ([h, w, ci, co, s]) =>
      s === 1 && ci === co
        ? { kind: 'identity', input: [h!, w!, ci!], output: [], attrs: {} }
        : {
            kind: 'conv2d',
            input: [h!, w!, ci!],
            output: [Math.ceil(h! / s!), Math.ceil(w! / s!), co!],
            attrs: { kernel: 1, stride: s!, groups: 1 },
          },
  ],
  [
    /^AvgP_H(\d+)_W(\d+)_Cin(\d+)_Cout(\d+)_kernel(\d+)_stride(\d+)$/,
    ([h, w, ci]) => ({ kind: 'gap', input: [h!, w!, ci!], output: [ci!], attrs: {} }),
  ],
  [/^FC_Cin(\d+)_Cout(\d+)$/, ([ci, co]) => ({ kind: 'dense', input: [ci!], output: [co!], attrs: {} })],
];

/**
 * Converts a HW-NAS-Bench FBNet-space LUT key (`ConvBlock_H…_W…_Cin…_Cout…_exp…_kernel…_stride…_group…`,
 * `ConvNorm_…`, `Skip_…`, `AvgP_…`, `FC_…`) into the canonical key. FBNet's `ConvBlock` maps to `convblock`
 * (its expansion conv exists even at exp 1); `Skip` with stride 1 and equal widths is `identity`, otherwise the
 * 1×1 conv it stands for.
 */
export function convertFbnetKey(key: string): string {
  for (const [re, make] of FBNET_PATTERNS) {
    const m = re.exec(key);
    if (m) return canonicalKey(make(m.slice(1).map(Number)));
  }
  throw keyError(key, 'not a HW-NAS-Bench FBNet key (ConvNorm_, ConvBlock_, Skip_, AvgP_, FC_)');
}

/**
 * Imports one HW-NAS-Bench FBNet metric (`pickle["fbnet"][metric]`: key → value, e.g. `pixel3_latency` in ms
 * or `edgegpu_energy` in mJ, batch 1) as canonical table entries.
 */
export function importHwNasBenchFbnet(values: Readonly<Record<string, number>>): Record<string, ProfileEntry> {
  const table: Record<string, ProfileEntry> = {};
  for (const [key, value] of Object.entries(values)) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw keyError(key, `value ${String(value)} is not a non-negative number`);
    }
    table[convertFbnetKey(key)] = { mean: value };
  }
  return table;
}
