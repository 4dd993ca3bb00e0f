import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { NasError, parseBudget, type Budget } from '@mitosis/core';
import { buildModelCard, exportModelOnnx, formatSignificant, loadMitosisModel, onnxBesideModel, writeModelCard, type ModelCard } from '@mitosis/deploy';
import { loadProfile } from '@mitosis/hardware';
import { loadSearchSpace, setupRun, type RunServices, type SearchSpace } from '@mitosis/growth';
import {
  GENERATION_FILES,
  STUDY_FILES,
  defaultJobs,
  formatBudget,
  lockStudy,
  planGeneration,
  runTrials,
  writeFileAtomic,
  writeResults,
  type GenerationRequest,
  type ResultRow,
  type StudyPlan,
} from '@mitosis/experiments';
import { integerFlag, jsonFlag } from '../flags.js';
import { CommandExit, emit, type GlobalOptions, type Io } from '../io.js';
import { pluginContainer, runServices } from '../plugin-context.js';
import { progressReporter, stopOnSignals, trialCommand } from './compare.js';

interface GenerateFlags {
  space: string;
  devices: string;
  budget: string;
  method?: string;
  methodOptions?: string;
  seed?: string;
  rounds?: string;
  data?: string;
  out: string;
  jobs?: string;
}

/** One device's line of the generation report. */
export interface GeneratedModel {
  readonly device: string;
  readonly deviceName: string;
  readonly budget: Budget;
  readonly status: ResultRow['status'];
  readonly cost: number | null;
  readonly budgetUsed: number | null;
  readonly budgetMet: boolean | null;
  readonly testAccuracy: number | null;
  readonly macs: number | null;
  readonly params: number | null;
  readonly latencyMs: number | null;
  readonly energyMj: number | null;
  readonly widths: Readonly<Record<string, number>>;
  /** `models/<device>` (TF.js LayersModel, model.onnx, model card), null when the trial did not finish. */
  readonly modelDir: string | null;
  readonly onnx: boolean;
  readonly card: string | null;
  readonly trialDir: string;
  readonly log: string;
}

/** `generate-report.json`. */
export interface GenerationReport {
  readonly format: 'mitosis-generation-report';
  readonly version: 1;
  readonly space: string;
  readonly method: string;
  readonly seed: number;
  readonly models: readonly GeneratedModel[];
  /** Layers whose width differs between the finished models. */
  readonly differingLayers: readonly string[];
}

const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(2)} %`);

/** The report as Markdown: one row per device, then the widths of every layer side by side. */
export function generationMarkdown(report: GenerationReport): string {
  const l = [`# mitosis generate: ${report.space} with ${report.method} (seed ${report.seed})`, ''];
  l.push('| device | budget | cost | used | met | test accuracy | MACs | params | latency (ms) | energy (mJ) | model |', '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|');
  for (const m of report.models) {
    l.push(
      `| ${m.device} (${m.deviceName}) | ${formatBudget(m.budget)} | ${formatSignificant(m.cost, 4)} | ${m.budgetUsed === null ? 'n/a' : `${(100 * m.budgetUsed).toFixed(1)} %`} | ${m.status !== 'done' ? `**${m.status}**` : m.budgetMet === false ? '**no**' : 'yes'} | ${pct(m.testAccuracy)} | ${formatSignificant(m.macs)} | ${formatSignificant(m.params)} | ${formatSignificant(m.latencyMs, 4)} | ${formatSignificant(m.energyMj, 4)} | ${m.modelDir === null ? '—' : `\`${m.modelDir}\`${m.onnx ? ' (+ONNX)' : ''}`} |`,
    );
  }
  const layers = [...new Set(report.models.flatMap((m) => Object.keys(m.widths)))];
  if (layers.length > 0) {
    l.push('', '## Widths per layer', '', `| layer | ${report.models.map((m) => m.device).join(' | ')} |`, `|---|${report.models.map(() => '---:').join('|')}|`);
    for (const layer of layers) l.push(`| ${layer}${report.differingLayers.includes(layer) ? ' *' : ''} | ${report.models.map((m) => m.widths[layer] ?? '—').join(' | ')} |`);
    l.push('', report.differingLayers.length === 0 ? 'Every device got the same architecture.' : `\\* differs between devices (${report.differingLayers.length} of ${layers.length} layers).`);
  }
  l.push('', 'Each model directory holds the TF.js LayersModel, `model.onnx`, and `model-card.md` / `model-card.json` (input, output, per-layer cost with sources, loading snippets).', '');
  return `${l.join('\n')}\n`;
}

/**
 * Checks every device before any training: the profile loads, the method and its options are valid, and the
 * seed (grower) or full network (pruner) can meet that device's budget. All problems are reported together.
 */
async function checkTargets(space: SearchSpace, request: GenerationRequest, budgets: readonly Budget[], services: RunServices): Promise<void> {
  const problems: { device: string; code: string; message: string }[] = [];
  for (const [i, device] of request.devices.entries()) {
    loadProfile(device);
    try {
      await setupRun(
        {
          space: request.data === null ? space : { ...space, data: { ...space.data, dataset: request.data, options: {} } },
          method: request.method,
          methodOptions: request.options,
          profile: device,
          budget: budgets[i]!,
          rounds: request.rounds ?? space.defaults.rounds,
          out: '',
          seed: request.seed,
        },
        services,
      );
    } catch (error) {
      if (!NasError.is(error, 'E_BUDGET_INFEASIBLE') && !NasError.is(error, 'E_UNIT_MISMATCH')) throw error;
      problems.push({ device, code: error.code, message: error.message });
    }
  }
  if (problems.length > 0) {
    throw new NasError(
      'E_BUDGET_INFEASIBLE',
      `No model was trained: ${problems.map((p) => `${p.device}: ${p.message}`).join('; ')}`,
      { problems },
    );
  }
}

/** Copies a finished trial's model into `models/<device>/` and writes its model card there. */
async function collectModel(outDir: string, deviceId: string, trialDir: string, device: string): Promise<{ dir: string; card: ModelCard; cardFile: string }> {
  const from = join(trialDir, 'model');
  const dir = join(outDir, GENERATION_FILES.models, deviceId);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(from, dir, { recursive: true });
  // Runs write model.onnx themselves; a model without one (an older run, an export that failed there) gets it here,
  // checked against the TF.js model in ONNX Runtime.
  if (!existsSync(onnxBesideModel(dir))) {
    const exported = await exportModelOnnx(await loadMitosisModel(dir), onnxBesideModel(dir));
    if (exported.check !== null && !exported.check.withinTolerance) {
      throw new NasError('E_MODEL_FORMAT', `${deviceId}: model.onnx differs from the TF.js model by ${exported.check.maxAbsDiff} in ONNX Runtime`, { file: onnxBesideModel(dir) });
    }
  }
  const card = await buildModelCard({ modelDir: dir, runDir: trialDir, profile: device });
  const files = writeModelCard(dir, card);
  return { dir, card, cardFile: files.md };
}

/**
 * `mitosis generate`: one model per device under its budget (each an ordinary, resumable run, in parallel like
 * `compare`), collected into `models/<device>/` with `model.onnx` and a model card, and a side-by-side report.
 */
export function registerGenerateCommand(program: Command, io: Io): void {
  program
    .command('generate')
    .description('one model per device under a latency/energy/MACs budget: runs in parallel and resumable, then models/<device>/ with ONNX, a model card, and a side-by-side report')
    .requiredOption('--space <id|file>', 'search space')
    .requiredOption('--devices <ids>', 'comma-separated hardware profile ids or files, e.g. note10-cpu,myriad-vpu,hexagon-dsp')
    .requiredOption('--budget <values>', 'one budget for every device (e.g. 0.05ms) or one per device in the same order (0.05ms,0.3ms,0.02ms)')
    .option('--method <id>', "method id (default: the space's)")
    .option('--method-options <json>', "method options as JSON")
    .option('--seed <n>', "random seed (default: the space's)")
    .option('--rounds <n>', "rounds per run (default: the space's)")
    .option('--data <id|path>', "data set instead of the space's")
    .requiredOption('--out <dir>', 'generation directory; run again with the same --out to resume')
    .option('--jobs <n>', `runs at once (default: the number of cores, ${defaultJobs()} here)`)
    .action(async (flags: GenerateFlags, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { space } = loadSearchSpace(flags.space);
      const devices = flags.devices.split(',').map((d) => d.trim()).filter((d) => d !== '');
      const budgetList = flags.budget.split(',').map((b) => b.trim()).filter((b) => b !== '').map((b) => parseBudget(b));
      const units = new Set(budgetList.map((b) => b.unit));
      if (units.size > 1) throw new NasError('E_USAGE', `--budget: give every device's budget in one unit (got ${[...units].join(', ')})`, { units: [...units] });
      const method = flags.method ?? space.defaults.method ?? space.defaults.grower;
      const methodOptions = (flags.methodOptions === undefined ? (space.defaults.growerOptions?.[method] ?? {}) : jsonFlag('--method-options', flags.methodOptions)) as Record<string, unknown>;
      if (typeof methodOptions !== 'object' || methodOptions === null || Array.isArray(methodOptions)) {
        throw new NasError('E_USAGE', '--method-options must be a JSON object', {});
      }
      const request: GenerationRequest = {
        space: flags.space,
        devices,
        budgets: budgetList,
        method,
        options: methodOptions,
        seed: flags.seed === undefined ? space.defaults.seed : integerFlag('--seed', flags.seed),
        rounds: flags.rounds === undefined ? null : integerFlag('--rounds', flags.rounds),
        data: flags.data ?? null,
      };
      const { plan, targets } = planGeneration(request);
      const { container } = await pluginContainer(options, io);
      const services = runServices(container);
      await checkTargets(space, request, targets.map((t) => t.budget), services);

      const outDir = resolve(flags.out);
      const jobs = flags.jobs === undefined ? defaultJobs() : integerFlag('--jobs', flags.jobs, 1);
      const release = lockStudy(outDir);
      const stop = stopOnSignals(io);
      let report: GenerationReport;
      try {
        mkdirSync(join(outDir, STUDY_FILES.trials), { recursive: true });
        writeFileAtomic(join(outDir, GENERATION_FILES.request), `${JSON.stringify({ format: 'mitosis-generation', version: 1, ...request }, null, 2)}\n`);
        writeFileAtomic(join(outDir, STUDY_FILES.plan), `${JSON.stringify(plan, null, 2)}\n`);
        if (options.json !== true) io.stderr(`generate: ${method} on ${space.id} for ${devices.length} device(s), ${jobs} at a time, in ${outDir}\n`);
        const { interrupted } = await runTrials(plan.trials, {
          studyDir: outDir,
          command: trialCommand(options),
          jobs,
          signal: stop.controller.signal,
          onEvent: progressReporter(io, options, () => plan.trials.length),
        });
        const results = writeResults(outDir, plan);
        report = await collect(outDir, plan, request, results.trials, interrupted, io, options);
      } finally {
        stop.release();
        release();
      }
      emit(io, options, report, () => renderReport(outDir, report));
      const stoppedBy = stop.stoppedBy();
      if (stoppedBy !== undefined) throw new CommandExit(stoppedBy === 'SIGINT' ? 130 : 143);
      if (report.models.some((m) => m.status !== 'done' || m.budgetMet === false)) throw new CommandExit(1);
    });
}

async function collect(
  outDir: string,
  plan: StudyPlan,
  request: GenerationRequest,
  rows: readonly ResultRow[],
  interrupted: boolean,
  io: Io,
  options: GlobalOptions,
): Promise<GenerationReport> {
  const models: GeneratedModel[] = [];
  for (const [i, trial] of plan.trials.entries()) {
    const row = rows.find((r) => r.trial === trial.id)!;
    const device = request.devices[i]!;
    const profile = loadProfile(device);
    const trialDir = join(outDir, trial.dir);
    let modelDir: string | null = null;
    let card: string | null = null;
    let onnx = false;
    if (row.status === 'done' && !interrupted) {
      try {
        const got = await collectModel(outDir, profile.id, trialDir, device);
        modelDir = got.dir;
        card = got.cardFile;
        onnx = got.card.files.onnx !== null;
        if (!onnx && options.json !== true) io.stderr(`warning: ${profile.id}: the run wrote no model.onnx (see ${join(trialDir, 'trial.log')})\n`);
      } catch (error) {
        if (!(error instanceof NasError)) throw error;
        io.stderr(`warning: ${profile.id}: could not collect the model: ${error.message}\n`);
      }
    }
    const unit = trial.budget.unit;
    models.push({
      device: profile.id,
      deviceName: profile.device.name,
      budget: trial.budget,
      status: row.status,
      cost: row.cost[unit],
      budgetUsed: row.budgetUsed,
      budgetMet: row.budgetMet,
      testAccuracy: row.testAccuracy,
      macs: row.cost.macs,
      params: row.cost.params,
      latencyMs: row.cost.ms,
      energyMj: row.cost.mJ,
      widths: row.widths,
      modelDir,
      onnx,
      card,
      trialDir,
      log: join(trialDir, 'trial.log'),
    });
  }
  const done = models.filter((m) => m.status === 'done');
  const layers = [...new Set(done.flatMap((m) => Object.keys(m.widths)))];
  const differingLayers = layers.filter((layer) => new Set(done.map((m) => m.widths[layer])).size > 1);
  const report: GenerationReport = {
    format: 'mitosis-generation-report',
    version: 1,
    space: plan.space.id,
    method: request.method,
    seed: request.seed,
    models,
    differingLayers,
  };
  writeFileAtomic(join(outDir, GENERATION_FILES.reportJson), `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(join(outDir, GENERATION_FILES.reportMd), generationMarkdown(report));
  return report;
}

function renderReport(outDir: string, report: GenerationReport): string {
  const lines = [`generated ${report.models.filter((m) => m.status === 'done').length}/${report.models.length} models (${report.method} on ${report.space}):`];
  for (const m of report.models) {
    const state = m.status !== 'done' ? m.status.toUpperCase() : m.budgetMet === false ? 'BUDGET NOT MET' : 'budget met';
    lines.push(
      `  ${m.device.padEnd(14)} ${formatBudget(m.budget).padEnd(12)} ${state.padEnd(15)} ${pct(m.testAccuracy).padStart(8)}  ${formatSignificant(m.macs)} MACs  ${formatSignificant(m.latencyMs, 4)} ms  widths ${Object.entries(m.widths).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    );
    if (m.status !== 'done') lines.push(`    log: ${m.log}`);
  }
  lines.push(`  report: ${join(outDir, GENERATION_FILES.reportMd)}`, `  models: ${join(outDir, GENERATION_FILES.models)}/<device>/ (model.json, model.onnx, model-card.md)`, '');
  return lines.join('\n');
}
