import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NasError, writeFileAtomicSync, type NetworkSpec } from '@mitosis/core';
import { readModelDataInfo, readModelNormalisation, type ChannelStats, type ModelDataInfo } from '@mitosis/data';
import { loadModelSource } from '@mitosis/engine';
import { loadProfile, priceNetwork, type HardwareProfile, type PricedLayer } from '@mitosis/hardware';
import { readOnnxModelInfo, type OnnxModelInfo } from './onnx/onnx-model-info.js';

/** File names of a model card, beside the model it describes. */
export const MODEL_CARD_FILES = { json: 'model-card.json', md: 'model-card.md', onnx: 'model.onnx' } as const;

/** One row of the card's cost table: a priced layer (fused layers listed) and where each number comes from. */
export interface CardCostRow {
  readonly node: string;
  /** Every IR node the row covers (the layer itself, its batch norm, activation, …). */
  readonly fused: readonly string[];
  readonly macs: number;
  readonly params: number;
  readonly latencyMs: number | null;
  /** `lut` (measured table), `predicted` (the profile's fitted predictor), `estimated`, or null without a profile. */
  readonly latencySource: string | null;
  readonly energyMj: number | null;
  readonly energySource: string | null;
}

/** A model card: everything a deployment needs beside the weights. */
export interface ModelCard {
  readonly format: 'mitosis-model-card';
  readonly version: 1;
  readonly name: string;
  readonly files: {
    readonly tfjs: { readonly modelJson: string; readonly weights: string; readonly sha256: string };
    readonly onnx: { readonly file: string; readonly sha256: string } | null;
  };
  readonly device: {
    readonly id: string;
    readonly name: string;
    readonly class: string;
    readonly runtime: string | null;
    readonly estimated: boolean;
    readonly description: string;
    readonly provenance: Readonly<Record<string, unknown>> | null;
  } | null;
  readonly input: {
    readonly shape: readonly number[];
    readonly layout: 'NHWC' | 'NC';
    readonly dtype: 'float32';
    readonly dataset: string | null;
    /** Range of the raw inputs the model was trained on (before normalisation). */
    readonly range: readonly [number, number] | null;
    /** Per-channel (x − mean) / std the TF.js model expects to have been applied; null: raw inputs. */
    readonly normalisation: ChannelStats | null;
    /** How the ONNX file takes its input (its own layout, and whether the normalisation is inside it). */
    readonly onnx: { readonly name: string; readonly shape: readonly (number | string)[]; readonly layout: 'NHWC' | 'NCHW' | 'NC'; readonly normalisationInside: boolean } | null;
  };
  readonly output: {
    readonly kind: 'logits' | 'probabilities' | 'regression';
    readonly size: number;
    readonly labels: readonly string[] | null;
    /** The ONNX file's output kind when it differs (an export with a softmax). */
    readonly onnxKind: 'logits' | 'probabilities' | null;
  };
  readonly metrics: {
    readonly testAccuracy: number | null;
    readonly testLoss: number | null;
    readonly valAccuracy: number | null;
    readonly testSamples: number | null;
  };
  readonly cost: {
    readonly macs: number;
    readonly params: number;
    readonly latencyMs: number | null;
    readonly energyMj: number | null;
    /** Why latency or energy are absent, when they are. */
    readonly notes: readonly string[];
    readonly layers: readonly CardCostRow[];
  };
  readonly provenance: {
    readonly space: string | null;
    readonly method: string | null;
    readonly kind: string | null;
    readonly options: Readonly<Record<string, unknown>> | null;
    readonly seed: number | null;
    readonly budget: { readonly value: number; readonly unit: string } | null;
    readonly budgetUsed: number | null;
    readonly budgetMet: boolean | null;
    readonly epochs: number | null;
    readonly rounds: number | null;
    readonly runDir: string | null;
    readonly generatedBy: string;
    readonly date: string;
  };
  readonly snippets: { readonly onnxruntime: string | null; readonly tfjs: string };
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The loading snippet for ONNX Runtime in Node, as a complete ES module meant to sit beside the model: it builds
 * one input of the right shape (zeros here — put the sample there), applies the normalisation when the ONNX file
 * does not, runs the model and prints the top class (or the outputs).
 */
export function onnxSnippet(card: Pick<ModelCard, 'input' | 'output'>, onnx: OnnxModelInfo): string {
  const shape = [1, ...onnx.onnxInputShape];
  const size = shape.reduce((a, b) => a * b, 1);
  const layout = onnx.inputLayout;
  const norm = card.input.onnx?.normalisationInside === true ? null : card.input.normalisation;
  const channels = card.input.shape[card.input.shape.length - 1] ?? 1;
  const range = card.input.range;
  const lines = [
    "import * as ort from 'onnxruntime-node';",
    '',
    `// ${card.input.dataset ?? 'the data set'}: ${layout} float32 input of shape [${shape.join(', ')}]${range === null ? '' : `, raw values in [${range[0]}, ${range[1]}]`}.`,
    "const session = await ort.InferenceSession.create(new URL('./model.onnx', import.meta.url).pathname);",
    `const x = new Float32Array(${size}); // put one sample here, ${layout === 'NCHW' ? 'channel-major (NCHW)' : 'channel-last (NHWC)'}`,
  ];
  if (norm !== null) {
    lines.push(
      `// The model expects per-channel (x - mean) / std with the training set's statistics:`,
      `const mean = ${JSON.stringify(norm.mean)};`,
      `const std = ${JSON.stringify(norm.std)};`,
      layout === 'NCHW'
        ? `for (let i = 0; i < x.length; i++) { const c = Math.floor(i / ${size / channels}) % ${channels}; x[i] = (x[i] - mean[c]) / std[c]; }`
        : `for (let i = 0; i < x.length; i++) { const c = i % ${channels}; x[i] = (x[i] - mean[c]) / std[c]; }`,
    );
  }
  lines.push(
    `const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [${shape.join(', ')}]) });`,
    'const y = Array.from(result[session.outputNames[0]].data);',
  );
  if (card.output.kind === 'regression') {
    lines.push("console.log('outputs', y);");
  } else {
    lines.push(
      'const best = y.indexOf(Math.max(...y));',
      card.output.labels === null
        ? "console.log('class', best);"
        : `const labels = ${JSON.stringify(card.output.labels)};\nconsole.log('class', best, labels[best]);`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The loading snippet for TF.js in plain Node (no tfjs-node needed): reads model.json and weights.bin beside it,
 * loads them from memory, and predicts one sample. Needs `@tensorflow/tfjs-core`, `@tensorflow/tfjs-layers`
 * and `@tensorflow/tfjs-backend-cpu` (or the umbrella `@tensorflow/tfjs`).
 */
export function tfjsSnippet(card: Pick<ModelCard, 'input' | 'output'>): string {
  const shape = [1, ...card.input.shape];
  const size = shape.reduce((a, b) => a * b, 1);
  const norm = card.input.normalisation;
  const channels = card.input.shape[card.input.shape.length - 1] ?? 1;
  const lines = [
    "import { readFileSync } from 'node:fs';",
    "import * as tf from '@tensorflow/tfjs-core';",
    "import '@tensorflow/tfjs-backend-cpu';",
    "import { loadLayersModel } from '@tensorflow/tfjs-layers';",
    '',
    "const dir = new URL('.', import.meta.url).pathname;",
    "const json = JSON.parse(readFileSync(dir + 'model.json', 'utf8'));",
    "const bin = readFileSync(dir + 'weights.bin');",
    'const model = await loadLayersModel(tf.io.fromMemory({',
    '  modelTopology: json.modelTopology,',
    '  weightSpecs: json.weightsManifest.flatMap((group) => group.weights),',
    '  weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),',
    '}));',
    `const x = new Float32Array(${size}); // put one sample here, NHWC${card.input.range === null ? '' : `, raw values in [${card.input.range[0]}, ${card.input.range[1]}]`}`,
  ];
  if (norm !== null) {
    lines.push(
      `const mean = ${JSON.stringify(norm.mean)};`,
      `const std = ${JSON.stringify(norm.std)};`,
      `for (let i = 0; i < x.length; i++) { const c = i % ${channels}; x[i] = (x[i] - mean[c]) / std[c]; }`,
    );
  }
  lines.push(`const y = Array.from(await model.predict(tf.tensor(x, [${shape.join(', ')}])).data());`);
  if (card.output.kind === 'regression') lines.push("console.log('outputs', y);");
  else {
    lines.push(
      'const best = y.indexOf(Math.max(...y));',
      card.output.labels === null ? "console.log('class', best);" : `const labels = ${JSON.stringify(card.output.labels)};\nconsole.log('class', best, labels[best]);`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function readJson(file: string): Record<string, unknown> | null {
  if (!existsSync(file)) return null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch (cause) {
    throw new NasError('E_CONFIG_READ', `${file} is not valid JSON: ${(cause as Error).message}`, { file });
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Options of {@link buildModelCard}. */
export interface ModelCardOptions {
  /** The LayersModel directory (a run's `model/`). */
  readonly modelDir: string;
  /** The run directory whose `summary.json` describes how the model was made (default: the model dir's parent if it has one). */
  readonly runDir?: string | null;
  /** Hardware profile id or file (default: the run's device). */
  readonly profile?: string | null;
  /** Card date (default today, UTC). */
  readonly date?: string;
}

function costNotes(profile: HardwareProfile | null, latency: number | null, energy: number | null): string[] {
  const notes: string[] = [];
  if (profile === null) notes.push('no hardware profile: latency and energy are not priced');
  else {
    if (latency === null) notes.push(`profile ${profile.id} cannot price every layer: latency is not given (never invented)`);
    if (energy === null) notes.push(profile.energy === undefined ? `profile ${profile.id} has no energy model: energy is not given` : `profile ${profile.id} cannot price the energy of every layer`);
    if (profile.estimated) notes.push(`profile ${profile.id} is estimated, not measured: treat its figures as relative`);
  }
  return notes;
}

/**
 * Builds the model card of a model directory: its files and checksums, the device and profile with provenance,
 * the input (shape, layout, raw range, normalisation — both for the TF.js model and for `model.onnx` when one is
 * there), the output (logits and labels), test metrics and how the model was made (from the run's summary), the
 * per-layer cost with each number's source, and loading snippets for ONNX Runtime and TF.js in Node.
 */
export async function buildModelCard(options: ModelCardOptions): Promise<ModelCard> {
  const modelDir = options.modelDir;
  const modelJson = join(modelDir, 'model.json');
  if (!existsSync(modelJson)) throw new NasError('E_MODEL_FORMAT', `${modelDir} holds no model.json (a TF.js LayersModel directory is needed)`, { file: modelDir });
  const { spec } = await loadModelSource(modelDir, 0);
  const runDir = options.runDir === undefined ? join(modelDir, '..') : options.runDir;
  const summary = runDir === null ? null : readJson(join(runDir, 'summary.json'));
  const profileRef = options.profile ?? (typeof summary?.['device'] === 'string' ? (summary['device'] as string) : null);
  const profile = profileRef === null ? null : loadProfile(profileRef);
  const priced = priceNetwork({ model: spec, ...(profile === null ? {} : { profile }) });
  const data: ModelDataInfo | null = readModelDataInfo(modelDir);
  const normalisation = readModelNormalisation(modelDir);
  const onnxFile = join(modelDir, MODEL_CARD_FILES.onnx);
  const onnx = existsSync(onnxFile) ? readOnnxModelInfo(readFileSync(onnxFile), onnxFile) : null;
  const inputNode = spec.nodes.find((n) => n.op === 'input');
  const shape = inputNode !== undefined && inputNode.op === 'input' ? [...inputNode.shape] : [];
  const task = data?.task ?? 'classification';
  const outputs = data?.outputs ?? outputSize(spec);
  const final = (summary?.['final'] ?? {}) as Record<string, unknown>;
  const budget = summary?.['budget'] as { value: number; unit: string } | null | undefined;
  const epochs = (summary?.['epochs'] ?? {}) as Record<string, unknown>;
  const base = {
    input: {
      shape,
      layout: shape.length === 3 ? ('NHWC' as const) : ('NC' as const),
      dtype: 'float32' as const,
      dataset: data?.dataset ?? null,
      range: data?.inputRange ?? null,
      normalisation,
      onnx:
        onnx === null
          ? null
          : {
              name: onnx.inputName,
              shape: ['batch', ...onnx.onnxInputShape],
              layout: onnx.inputLayout,
              normalisationInside: onnx.normalisation?.folded === true,
            },
    },
    output: {
      kind: task === 'regression' ? ('regression' as const) : ('logits' as const),
      size: outputs,
      labels: data?.classNames ?? null,
      onnxKind: onnx === null || task === 'regression' ? null : onnx.outputKind === 'probabilities' ? ('probabilities' as const) : ('logits' as const),
    },
  };
  return {
    format: 'mitosis-model-card',
    version: 1,
    name: spec.name ?? 'model',
    files: {
      tfjs: { modelJson: 'model.json', weights: 'weights.bin', sha256: sha256File(join(modelDir, 'weights.bin')) },
      onnx: onnx === null ? null : { file: MODEL_CARD_FILES.onnx, sha256: sha256File(onnxFile) },
    },
    device:
      profile === null
        ? null
        : {
            id: profile.id,
            name: profile.device.name,
            class: profile.device.class,
            runtime: profile.runtime?.name ?? null,
            estimated: profile.estimated,
            description: profile.description ?? '',
            provenance: { ...profile.provenance },
          },
    ...base,
    metrics: {
      testAccuracy: num(final['testAccuracy']),
      testLoss: num(final['testLoss']),
      valAccuracy: num(final['valAccuracy']),
      testSamples: data?.counts.test ?? null,
    },
    cost: {
      macs: priced.macs,
      params: priced.params,
      latencyMs: priced.latencyMs,
      energyMj: priced.energyMj,
      notes: costNotes(profile, priced.latencyMs, priced.energyMj),
      layers: priced.layers.map((l: PricedLayer) => ({
        node: l.node,
        fused: l.fused,
        macs: l.macs,
        params: l.params,
        latencyMs: l.latencyMs,
        latencySource: l.latencySource,
        energyMj: l.energyMj,
        energySource: l.energySource,
      })),
    },
    provenance: {
      space: typeof summary?.['space'] === 'string' ? (summary['space'] as string) : null,
      method: typeof summary?.['method'] === 'string' ? (summary['method'] as string) : null,
      kind: typeof summary?.['kind'] === 'string' ? (summary['kind'] as string) : null,
      options: (summary?.['options'] as Record<string, unknown> | undefined) ?? null,
      seed: num(summary?.['seed']),
      budget: budget ?? null,
      budgetUsed: num(summary?.['budgetUsed']),
      budgetMet: typeof summary?.['budgetMet'] === 'boolean' ? (summary['budgetMet'] as boolean) : null,
      epochs: num(epochs['total']),
      rounds: num(summary?.['rounds']),
      runDir: summary === null || runDir === null ? null : runDir,
      generatedBy: 'mitosis (packages/deploy buildModelCard)',
      date: options.date ?? new Date().toISOString().slice(0, 10),
    },
    snippets: { onnxruntime: onnx === null ? null : onnxSnippet(base, onnx), tfjs: tfjsSnippet(base) },
  };
}

function outputSize(spec: NetworkSpec): number {
  const out = spec.nodes.find((n) => n.name === spec.output);
  return out !== undefined && out.op === 'dense' ? out.units : 0;
}

/** A number for people: significant digits, never "0" for a non-zero value. */
export function formatSignificant(v: number | null, digits = 3): string {
  if (v === null) return 'n/a';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e4) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(digits)));
}

const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(2)} %`);

/** The card as Markdown. */
export function modelCardMarkdown(card: ModelCard): string {
  const l: string[] = [`# Model card: ${card.name}`, ''];
  const dev = card.device;
  l.push(
    dev === null
      ? '**Device:** none (no hardware profile; latency and energy not priced).'
      : `**Device:** ${dev.name} (\`${dev.id}\`, ${dev.class}${dev.runtime === null ? '' : `, runtime ${dev.runtime}`})${dev.estimated ? ' — **estimated profile**' : ''}. ${dev.description}`,
    '',
  );
  if (dev?.provenance) l.push(`Profile provenance: ${Object.entries(dev.provenance).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('; ')}.`, '');
  l.push('## Files', '', '| file | format | SHA-256 |', '|---|---|---|', `| model.json + weights.bin | TF.js LayersModel | \`${card.files.tfjs.sha256.slice(0, 16)}…\` (weights.bin) |`);
  if (card.files.onnx !== null) l.push(`| ${card.files.onnx.file} | ONNX | \`${card.files.onnx.sha256.slice(0, 16)}…\` |`);
  l.push('', '## Input', '');
  l.push(`- Shape per sample: [${card.input.shape.join(', ')}] (${card.input.layout}), float32${card.input.dataset === null ? '' : `; trained on \`${card.input.dataset}\``}.`);
  if (card.input.range !== null) l.push(`- Raw input range: [${card.input.range[0]}, ${card.input.range[1]}]${card.input.range[1] === 1 && card.input.range[0] === 0 ? ' (pixel / 255)' : ''}.`);
  l.push(
    card.input.normalisation === null
      ? '- No normalisation: the model takes raw inputs.'
      : `- Normalisation the TF.js model expects applied first: per channel (x − mean) / std, mean ${JSON.stringify(card.input.normalisation.mean.map((v) => formatSignificant(v, 5)))}, std ${JSON.stringify(card.input.normalisation.std.map((v) => formatSignificant(v, 5)))}.`,
  );
  if (card.input.onnx !== null) {
    l.push(`- ONNX input \`${card.input.onnx.name}\`: shape [${card.input.onnx.shape.join(', ')}] (${card.input.onnx.layout}); normalisation ${card.input.onnx.normalisationInside ? 'is inside the ONNX graph (feed raw inputs)' : 'must be applied before (as above)'}.`);
  }
  l.push('', '## Output', '');
  l.push(
    card.output.kind === 'regression'
      ? `- ${card.output.size} regression value(s).`
      : `- ${card.output.size} raw class scores (**logits**, no softmax) in the TF.js model${card.output.onnxKind === null ? '' : `; the ONNX file outputs ${card.output.onnxKind}`}. Apply softmax for probabilities; argmax is the class.`,
  );
  if (card.output.labels !== null) l.push(`- Labels: ${card.output.labels.map((s, i) => `${i} = ${s}`).join(', ')}.`);
  l.push('', '## Accuracy', '');
  l.push(`- Test accuracy ${pct(card.metrics.testAccuracy)}${card.metrics.testSamples === null ? '' : ` on ${card.metrics.testSamples} test samples`}; validation accuracy ${pct(card.metrics.valAccuracy)}; test loss ${formatSignificant(card.metrics.testLoss, 4)}.`);
  l.push('', '## Cost', '');
  l.push(`MACs ${formatSignificant(card.cost.macs)}, params ${formatSignificant(card.cost.params)}, latency ${card.cost.latencyMs === null ? 'n/a' : `${formatSignificant(card.cost.latencyMs, 4)} ms`}, energy ${card.cost.energyMj === null ? 'n/a' : `${formatSignificant(card.cost.energyMj, 4)} mJ`}.`);
  for (const n of card.cost.notes) l.push(`- ${n}`);
  l.push('', '| layer | fused nodes | MACs | params | latency (ms) | source | energy (mJ) | source |', '|---|---|---:|---:|---:|---|---:|---|');
  for (const r of card.cost.layers) {
    const others = r.fused.filter((f) => f !== r.node);
    l.push(
      `| ${r.node} | ${others.length === 0 ? '—' : others.join(', ')} | ${formatSignificant(r.macs)} | ${formatSignificant(r.params)} | ${formatSignificant(r.latencyMs, 4)} | ${r.latencySource ?? '—'} | ${formatSignificant(r.energyMj, 4)} | ${r.energySource ?? '—'} |`,
    );
  }
  const p = card.provenance;
  l.push('', '## How it was made', '');
  l.push(
    `- Method \`${p.method ?? 'unknown'}\`${p.kind === null ? '' : ` (${p.kind})`} on search space \`${p.space ?? 'unknown'}\`, seed ${p.seed ?? 'n/a'}, ${p.epochs ?? 'n/a'} epochs, ${p.rounds ?? 'n/a'} round(s).`,
  );
  if (p.budget !== null) l.push(`- Budget ${p.budget.value} ${p.budget.unit}: ${p.budgetUsed === null ? 'n/a' : `${(100 * p.budgetUsed).toFixed(1)} % used`}, ${p.budgetMet === false ? '**not met**' : 'met'}.`);
  if (p.options !== null && Object.keys(p.options).length > 0) l.push(`- Method options: \`${JSON.stringify(p.options)}\`.`);
  if (p.runDir !== null) l.push(`- Run directory: \`${p.runDir}\`.`);
  l.push(`- Card written ${p.date} by ${p.generatedBy}.`);
  l.push('', '## Load it in Node', '');
  if (card.snippets.onnxruntime !== null) {
    l.push('With ONNX Runtime (`npm install onnxruntime-node`), saved as `predict-onnx.mjs` beside `model.onnx`:', '', '```js', card.snippets.onnxruntime.trimEnd(), '```', '');
  }
  l.push(
    'With TF.js in plain Node (`npm install @tensorflow/tfjs-core @tensorflow/tfjs-layers @tensorflow/tfjs-backend-cpu`), saved as `predict-tfjs.mjs` beside `model.json`:',
    '',
    '```js',
    card.snippets.tfjs.trimEnd(),
    '```',
    '',
  );
  return `${l.join('\n')}\n`;
}

/** Writes `model-card.json` and `model-card.md` into the model directory; returns their paths. */
export function writeModelCard(modelDir: string, card: ModelCard): { json: string; md: string } {
  const json = join(modelDir, MODEL_CARD_FILES.json);
  const md = join(modelDir, MODEL_CARD_FILES.md);
  writeFileAtomicSync(json, `${JSON.stringify(card, null, 1)}\n`, 'write the model card');
  writeFileAtomicSync(md, modelCardMarkdown(card), 'write the model card');
  return { json, md };
}
