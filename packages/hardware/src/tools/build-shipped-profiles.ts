/**
 * Regenerates the shipped profiles `pixel1-cpu`, `note10-cpu`, `myriad-vpu`, `hexagon-dsp` and the schema file
 * from the sourced tables in a `shared/data` folder (see each profile's provenance):
 *   node packages/hardware/dist/tools/build-shipped-profiles.js ../shared/data hardware-profiles
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitFallback, fitToNetworks, type SharedFallbackForm } from '../predictor/fallback-predictor.js';
import { importOfaTables, type SourceEntry } from '../importers/lut-importers.js';
import { blocksFromSpec } from '../ops/blocks.js';
import { opFeatures } from '../ops/op-features.js';
import { parseCanonicalKey } from '../ops/op-key.js';
import { hardwareProfileSchema, type HardwareProfile, type ProfileEntry } from '../profile/hardware-profile.js';
import { validateProfile } from '../profile/load-profile.js';
import { mobileNetV2Spec } from '../zoo/mobilenets.js';
import { mnasNetSpec, resNet18Spec, vgg16Spec } from '../zoo/classic-nets.js';

/** Default fallback form for measured tables: fixed cost + compute + memory traffic. */
export const DEFAULT_FALLBACK_EXPRESSION = 'c0 + c1 * macs + c2 * (inBytes + outBytes) + c3 * params';

const SCHEMA_REF = './schema/hardware-profile.schema.json';

/** Fits the default fallback, and one per op kind with at least 12 entries, to a table. */
export function fitTableFallback(table: Readonly<Record<string, ProfileEntry>>, bytesPerElement = 4): NonNullable<HardwareProfile['fallback']> {
  const samples = Object.entries(table).map(([key, e]) => {
    const op = parseCanonicalKey(key);
    return { kind: op.kind, features: opFeatures(op, bytesPerElement), value: e.mean };
  });
  const all = fitFallback(DEFAULT_FALLBACK_EXPRESSION, samples);
  const byOp: Record<string, { expression: string; coefficients: Record<string, number>; quality: typeof all.quality }> = {};
  for (const kind of [...new Set(samples.map((s) => s.kind))].sort()) {
    const own = samples.filter((s) => s.kind === kind);
    if (own.length >= 12) {
      const fit = fitFallback(DEFAULT_FALLBACK_EXPRESSION, own, `/fallback/byOp/${kind}`);
      byOp[kind] = { expression: fit.expression, coefficients: { ...fit.coefficients }, quality: fit.quality };
    }
  }
  return {
    expression: all.expression,
    coefficients: { ...all.coefficients },
    quality: all.quality,
    ...(Object.keys(byOp).length > 0 ? { byOp } : {}),
  };
}

interface SharedRow {
  key: string;
  mean_ms: number;
  std_ms?: number;
  var_ms2?: number;
  count?: number;
}

function sourceRows(rows: readonly SharedRow[]): Record<string, SourceEntry> {
  return Object.fromEntries(
    rows.map((r) => [
      r.key,
      {
        mean: r.mean_ms,
        ...(r.std_ms === undefined ? {} : { std: r.std_ms }),
        ...(r.var_ms2 === undefined ? {} : { var: r.var_ms2 }),
        ...(r.count === undefined ? {} : { count: r.count }),
      },
    ]),
  );
}

function note10(dataDir: string): HardwareProfile {
  const data = JSON.parse(readFileSync(join(dataDir, 'ofa/note10_latency_lut.json'), 'utf8')) as {
    tables: Record<string, SharedRow[]>;
  };
  const tables = Object.fromEntries(Object.entries(data.tables).map(([r, rows]) => [r, sourceRows(rows)]));
  const { table, resolutionOverrides } = importOfaTables(tables, 'ofa');
  return {
    $schema: SCHEMA_REF,
    id: 'note10-cpu',
    version: 1,
    description: 'Samsung Galaxy Note10 mobile CPU, OFA MobileNetV3-w1.2 block latency tables at 160/176/192/208/224 px.',
    device: { name: 'Samsung Galaxy Note10', class: 'cpu' },
    runtime: { name: 'unknown (OFA published tables; likely TFLite)' },
    precision: 'fp32',
    batchSize: 1,
    granularity: 'block',
    estimated: false,
    units: { latency: 'ms', energy: 'mJ' },
    energy: powerModel(ASSUMED_POWER_W['note10-cpu']!.watts),
    measurement: {
      statistic: 'mean',
      threads: null,
      frequencyPinned: null,
      notes: 'Mean/std over `count` runs as published; threads, warm-up and frequency policy not documented by the source.',
    },
    table,
    resolutionOverrides,
    fallback: fitTableFallback(table),
    provenance: {
      source:
        'han-cai/files ofa/note10/{160,176,192,208,224}_lookup_table.yaml (downloaded by mit-han-lab/once-for-all ofa/tutorial/latency_table.py)',
      commit: 'a7c9bcd525e17404968bc55aa43772bf7e51909e',
      license:
        'No LICENSE in han-cai/files; OFA code is MIT (c) 2021 Han Cai. Research data used with attribution: Cai et al., Once-for-All, ICLR 2020.',
      notes: [
        `Energy is ESTIMATED as assumed average power × latency: ${ASSUMED_POWER_W['note10-cpu']!.watts} W (${ASSUMED_POWER_W['note10-cpu']!.basis}).`,
        'OFA keys converted to canonical keys: expanded_conv→mbconv (expand = absolute mid width), Conv→3×3/2 conv2d, Conv_1/Conv_2→1×1 conv2d, AvgPool2D→gap, Logits→dense.',
        'Keys measured at several resolutions with different values: pooled statistics in `table`, the exact per-resolution values in `resolutionOverrides`.',
        'Fallback coefficients fitted by fitTableFallback (relative least squares) on this table.',
      ],
      generatedBy: 'packages/hardware/dist/tools/build-shipped-profiles.js',
    },
  };
}

function pixel1(dataDir: string): HardwareProfile {
  const data = JSON.parse(readFileSync(join(dataDir, 'proxylessnas/mobile_latency_lut.json'), 'utf8')) as {
    entries: SharedRow[];
  };
  const { table } = importOfaTables({ '224': sourceRows(data.entries) }, 'proxyless');
  return {
    $schema: SCHEMA_REF,
    id: 'pixel1-cpu',
    version: 1,
    description: 'Google Pixel 1 mobile CPU (ProxylessNAS "mobile" target), MobileNetV2-space block latency table at 224 px.',
    device: { name: 'Google Pixel 1', class: 'cpu' },
    runtime: { name: 'TensorFlow Lite (per the ProxylessNAS paper)' },
    precision: 'fp32',
    batchSize: 1,
    granularity: 'block',
    estimated: false,
    units: { latency: 'ms', energy: 'mJ' },
    energy: powerModel(ASSUMED_POWER_W['pixel1-cpu']!.watts),
    measurement: {
      statistic: 'mean',
      threads: null,
      frequencyPinned: null,
      notes: 'Mean and variance over `count` runs as published (std = sqrt(var)); protocol not documented by the source.',
    },
    table,
    fallback: fitTableFallback(table),
    provenance: {
      source: 'han-cai/files proxylessnas/mobile_trim.yaml (ProxylessNASLatencyTable default URL in mit-han-lab/once-for-all)',
      commit: 'a7c9bcd525e17404968bc55aa43772bf7e51909e',
      license:
        'No LICENSE in han-cai/files; research data used with attribution: Cai, Zhu, Han, ProxylessNAS, ICLR 2019.',
      notes: [
        `Energy is ESTIMATED as assumed average power × latency: ${ASSUMED_POWER_W['pixel1-cpu']!.watts} W (${ASSUMED_POWER_W['pixel1-cpu']!.basis}).`,
        'Device per the ProxylessNAS paper (the file does not name it).',
        'expand in this table is a ratio: mbconv mid = ratio × input channels. Logits (7×7 pooling + FC) → classifier.',
      ],
      generatedBy: 'packages/hardware/dist/tools/build-shipped-profiles.js',
    },
  };
}

/** Per-op-class form shared by the estimated profiles: compute by class, memory traffic, per-op overhead. */
const ESTIMATED_FORM: SharedFallbackForm = {
  expression: 'kMem * (inBytes + outBytes)',
  byOp: {
    conv2d: 'kConv * macs + kMem * (inBytes + outBytes)',
    dense: 'kConv * macs + kMem * (inBytes + outBytes)',
    dwconv2d: 'kDw * macs + kMem * (inBytes + outBytes)',
  },
};

function estimatedFallback(coefficients: Record<string, number>): NonNullable<HardwareProfile['fallback']> {
  const byOp = Object.fromEntries(
    Object.entries(ESTIMATED_FORM.byOp ?? {}).map(([k, e]) => [k, { expression: e, coefficients: { ...coefficients } }]),
  );
  return { expression: ESTIMATED_FORM.expression, coefficients: { ...coefficients }, byOp };
}

function networkSample(name: string, spec: ReturnType<typeof mobileNetV2Spec>, value: number) {
  return { name, value, ops: blocksFromSpec(spec).map((b) => ({ kind: b.op.kind, features: opFeatures(b.op, 2) })) };
}

function myriad(dataDir: string): { profile: HardwareProfile; fit: ReturnType<typeof fitToNetworks> } {
  const data = JSON.parse(readFileSync(join(dataDir, 'nn-meter/reference_predictions.json'), 'utf8')) as {
    rows: { model: string; model_type: string; predictor: string; predicted_latency_ms: number }[];
  };
  const vpu = (model: string): number => {
    const row = data.rows.find((r) => r.model === model && r.model_type === 'torch' && r.predictor === 'myriadvpu_openvino2019r2');
    if (!row) throw new Error(`no nn-Meter VPU prediction for ${model}`);
    return row.predicted_latency_ms;
  };
  const nets = [
    networkSample('mobilenet_v2', mobileNetV2Spec(), vpu('mobilenet_v2')),
    networkSample('resnet18', resNet18Spec(), vpu('resnet18')),
    networkSample('vgg16', vgg16Spec(), vpu('vgg16')),
    networkSample('mnasnet', mnasNetSpec(), vpu('mnasnet')),
  ];
  const fit = fitToNetworks(ESTIMATED_FORM, nets);
  const profile: HardwareProfile = {
    $schema: SCHEMA_REF,
    id: 'myriad-vpu',
    version: 1,
    description:
      'ESTIMATED Intel Movidius Myriad X VPU (NCS2, OpenVINO 2019R2, fp16): per-op-class throughput fitted to nn-Meter model-level predictions. No per-op measurements.',
    device: { name: 'Intel Movidius Neural Compute Stick 2', class: 'vpu', processor: 'Myriad X' },
    runtime: { name: 'OpenVINO', version: '2019R2' },
    precision: 'fp16',
    batchSize: 1,
    granularity: 'layer',
    estimated: true,
    units: { latency: 'ms', energy: 'mJ' },
    energy: powerModel(ASSUMED_POWER_W['myriad-vpu']!.watts),
    measurement: {
      statistic: 'mean',
      notes:
        'Not measured. Coefficients fitted (fitToNetworks, relative least squares) so that summed layer estimates match nn-Meter v1.0 predictions for torchvision mobilenet_v2, resnet18, vgg16 and mnasnet.',
    },
    table: {},
    fallback: estimatedFallback(fit.coefficients),
    provenance: {
      source: 'microsoft/nn-Meter tests/integration_test/data/reference_result*.txt (myriadvpu_openvino2019r2 predictions)',
      commit: 'cd8dab49b735d58d03746141f73ef5934559ae68',
      license: 'MIT (c) Microsoft Corporation',
      notes: [
        `Energy is ESTIMATED as assumed average power × latency: ${ASSUMED_POWER_W['myriad-vpu']!.watts} W (${ASSUMED_POWER_W['myriad-vpu']!.basis}).`,
        'Estimated throughout: the nn-Meter kernel predictors (release assets) were not available, only model-level predictions.',
        'nn-Meter states only 83.4% of its VPU predictions are within ±10%; add the error of this 4-coefficient fit: ' +
          fit.fitted.map((f) => `${f.name} ${f.observed.toFixed(2)} ms → ${f.predicted.toFixed(2)} ms`).join('; ') +
          '.',
        'Squeeze-excite and h-swish (slow on this VPU per nn-Meter) are not in the fitted form.',
      ],
      generatedBy: 'packages/hardware/dist/tools/build-shipped-profiles.js',
    },
  };
  return { profile, fit };
}

function hexagon(vpu: Record<string, number>): HardwareProfile {
  // Calibration assumption (documented below): a MobileNetV2-1.4×-sized network (585M MACs) runs in 16.5 ms,
  // HURRICANE's published DSP latency for its 76.67%-top-1 model; op-class ratios taken from the VPU fit.
  const reference = networkSample('mobilenet_v2_1.4', mobileNetV2Spec({ alpha: 1.4 }), 16.5);
  const ratios = { ...vpu };
  let predicted = 0;
  for (const op of reference.ops) {
    const f = op.features;
    const macsTerm = op.kind === 'dwconv2d' ? ratios['kDw']! * f.macs : op.kind === 'conv2d' || op.kind === 'dense' ? ratios['kConv']! * f.macs : 0;
    predicted += macsTerm + ratios['kMem']! * (f.inBytes + f.outBytes);
  }
  const scale = 16.5 / predicted;
  const coefficients = Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, v * scale]));
  return {
    $schema: SCHEMA_REF,
    id: 'hexagon-dsp',
    version: 1,
    description:
      'ESTIMATED Qualcomm Hexagon DSP (HURRICANE device class): no public per-op table exists; a scaled per-op-class model. Replace with a measured profile.',
    device: { name: 'Qualcomm Hexagon DSP (HURRICANE target; model not confirmed)', class: 'dsp' },
    runtime: { name: 'unknown (SNPE/QNN class)' },
    precision: 'int8',
    batchSize: 1,
    granularity: 'layer',
    estimated: true,
    units: { latency: 'ms', energy: 'mJ' },
    energy: powerModel(ASSUMED_POWER_W['hexagon-dsp']!.watts),
    measurement: {
      statistic: 'mean',
      notes: 'Not measured. One calibration point from a published whole-model latency; see provenance notes.',
    },
    table: {},
    fallback: estimatedFallback(coefficients),
    provenance: {
      source: 'Zhang et al., HURRICANE (arXiv 1910.11609, CVPRW 2020): 76.67% top-1 at 16.5 ms on a Hexagon DSP (abstract)',
      license: 'Published figure (no data release)',
      notes: [
        `Energy is ESTIMATED as assumed average power × latency: ${ASSUMED_POWER_W['hexagon-dsp']!.watts} W (${ASSUMED_POWER_W['hexagon-dsp']!.basis}).`,
        'Estimated throughout; expect errors of 2× or more on individual networks.',
        'Op-class ratios (conv vs depthwise vs memory vs per-op overhead) copied from the myriad-vpu fit, then scaled by one factor so that MobileNetV2 1.4× (585M MACs; an ASSUMED stand-in for HURRICANE\'s unpublished DSP architecture of similar accuracy) costs 16.5 ms.',
        'Activation bytes counted at int8 (1 byte per element).',
      ],
      generatedBy: 'packages/hardware/dist/tools/build-shipped-profiles.js',
    },
  };
}

/** Writes the schema file and the four sourced profiles (validated first) into `outDir`. */
/**
 * An ESTIMATED energy model E = P·t (W × ms = mJ) for devices that publish no per-op energy: `watts` is the
 * average active power assumed while the network runs. It ranks architectures exactly as latency does, but lets
 * budgets be stated in mJ; every energy number from it is flagged `estimated`.
 */
function powerModel(watts: number): NonNullable<HardwareProfile['energy']> {
  return { model: { expression: 'watts * latencyMs', coefficients: { watts } } };
}

/** Average active power assumptions (W) behind {@link powerModel}, with their basis. */
export const ASSUMED_POWER_W: Readonly<Record<string, { watts: number; basis: string }>> = {
  'note10-cpu': { watts: 2.0, basis: 'a single big ARM core cluster of a 2019 flagship SoC under sustained load (~2 W), not measured' },
  'pixel1-cpu': { watts: 2.0, basis: 'a Snapdragon 821 big-core cluster under sustained load (~2 W), not measured' },
  'myriad-vpu': { watts: 1.0, basis: 'Intel quotes about 1 W for the Myriad X VPU; the NCS2 stick as a whole draws more' },
  'hexagon-dsp': { watts: 0.75, basis: 'a Hexagon DSP running a CNN draws well under 1 W in published SoC power breakdowns; 0.75 W assumed' },
};

export function buildShippedProfiles(dataDir: string, outDir: string): Record<string, HardwareProfile> {
  mkdirSync(join(outDir, 'schema'), { recursive: true });
  writeFileSync(join(outDir, 'schema', 'hardware-profile.schema.json'), `${JSON.stringify(hardwareProfileSchema, null, 2)}\n`);
  const { profile: vpu, fit } = myriad(dataDir);
  const profiles = [note10(dataDir), pixel1(dataDir), vpu, hexagon(fit.coefficients)];
  const out: Record<string, HardwareProfile> = {};
  for (const p of profiles) {
    validateProfile(p, p.id);
    writeFileSync(join(outDir, `${p.id}.json`), `${JSON.stringify(p, null, 1)}\n`);
    out[p.id] = p;
  }
  return out;
}

if (process.argv[1]?.endsWith('build-shipped-profiles.js')) {
  const [dataDir = '../shared/data', outDir = 'hardware-profiles'] = process.argv.slice(2);
  const built = buildShippedProfiles(dataDir, outDir);
  for (const p of Object.values(built)) {
    console.log(p.id, Object.keys(p.table).length, 'entries; fallback', JSON.stringify(p.fallback?.coefficients), JSON.stringify(p.fallback?.quality ?? null));
  }
}
