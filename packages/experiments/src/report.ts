import { mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { COST_UNITS, fileSystemError, type CostUnit } from '@mitosis/core';
import { formatBudget, formatCount, type StudyBudget } from './budget.js';
import { formatDuration } from './executor.js';
import { readPlan, STUDY_FILES, writeFileAtomic, type StudyPlan } from './plan.js';
import {
  accuracyPerRoundSpec,
  accuracyVsCostSpec,
  renderSvg,
  widthsSpec,
  type CostPoint,
  type PlotSpec,
  type RoundMean,
  type WidthMean,
} from './plots.js';
import { readRoundCurve, writeResults, type ResultRow, type StudyResults } from './results.js';
import { mean, pairedComparison, paretoFront, sampleStd } from './stats.js';

/** A piece of the report, rendered both to Markdown and to HTML. Text may hold `code` spans. */
export type ReportBlock =
  | { readonly kind: 'heading'; readonly level: 1 | 2 | 3; readonly text: string }
  | { readonly kind: 'paragraph'; readonly text: string }
  | { readonly kind: 'list'; readonly items: readonly string[] }
  | { readonly kind: 'table'; readonly head: readonly string[]; readonly rows: readonly (readonly string[])[] }
  | { readonly kind: 'plot'; readonly file: string; readonly title: string };

/** A plot of the report: its file under `plots/` and its vega-lite spec. */
export interface ReportPlot {
  readonly file: string;
  readonly title: string;
  readonly spec: PlotSpec;
}

/** The report before rendering. */
export interface StudyReport {
  readonly title: string;
  readonly blocks: readonly ReportBlock[];
  readonly plots: readonly ReportPlot[];
}

/** What {@link writeReport} wrote (absolute paths). */
export interface ReportFiles {
  readonly markdown: string;
  readonly html: string;
  readonly resultsJson: string;
  readonly resultsCsv: string;
  readonly plots: readonly string[];
  /** The rebuilt results the report shows. */
  readonly results: StudyResults;
}

const pct = (x: number): string => (100 * x).toFixed(2);
const slug = (s: string): string => s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '');
const dash = '—';

/** A device as the report names it: the profile id (a file's stem), or `default` for none given. */
export function deviceName(device: string | null): string {
  if (device === null) return 'default';
  return device.endsWith('.json') || device.includes('/') ? basename(device, '.json') : device;
}

function meanStd(xs: readonly number[]): string {
  if (xs.length === 0) return dash;
  if (xs.length === 1) return `${pct(xs[0] as number)} (n=1)`;
  return `${pct(mean(xs))} ± ${pct(sampleStd(xs))}`;
}

function sameBudget(a: StudyBudget, b: StudyBudget): boolean {
  return a.value === b.value && a.unit === b.unit;
}

/** Rows of one budget × device, by method label. */
function groupRows(results: StudyResults, budget: StudyBudget, device: string | null): Map<string, ResultRow[]> {
  const byMethod = new Map<string, ResultRow[]>();
  for (const r of results.trials) {
    if (!sameBudget(r.budget, budget) || r.device !== device) continue;
    const list = byMethod.get(r.label) ?? [];
    list.push(r);
    byMethod.set(r.label, list);
  }
  return byMethod;
}

const doneAcc = (rows: readonly ResultRow[]): ResultRow[] => rows.filter((r) => r.status === 'done' && r.testAccuracy !== null);

function unitsPriced(results: StudyResults): CostUnit[] {
  return COST_UNITS.filter((u) => results.trials.some((r) => r.status === 'done' && r.cost[u] !== null));
}

function deviceNote(results: StudyResults, device: string | null): string {
  if (device !== null) return `device ${deviceName(device)}`;
  const priced = new Set(results.trials.filter((r) => r.device === null && r.status === 'done').map((r) => r.runDevice));
  if (priced.size === 1) {
    const only = [...priced][0];
    return only === null || only === undefined ? 'no device' : `default device (runs priced on ${only})`;
  }
  return 'default device';
}

function methodTable(plan: StudyPlan, results: StudyResults, budget: StudyBudget, device: string | null): ReportBlock {
  const units = unitsPriced(results);
  const rows = groupRows(results, budget, device);
  const head = [
    'method',
    'test accuracy % (mean ± std)',
    ...plan.seeds.map((s) => `seed ${s}`),
    ...units,
    `${budget.unit} budget used`,
    'epochs',
    'wall time',
    'stopped by',
  ];
  const body = plan.methods.map((label) => {
    const list = rows.get(label) ?? [];
    const done = list.filter((r) => r.status === 'done');
    const accs = doneAcc(list).map((r) => r.testAccuracy as number);
    const seedCells = plan.seeds.map((s) => {
      const r = list.find((x) => x.seed === s);
      if (r === undefined) return dash;
      if (r.status === 'failed') return 'failed';
      if (r.status === 'incomplete') return 'not run';
      return r.testAccuracy === null ? 'n/a' : pct(r.testAccuracy);
    });
    const costCells = units.map((u) => {
      const vs = done.map((r) => r.cost[u]).filter((v): v is number => v !== null);
      return vs.length === 0 ? dash : formatCount(mean(vs), u);
    });
    const used = done.map((r) => r.budgetUsed).filter((v): v is number => v !== null);
    const over = done.filter((r) => r.budgetMet === false).length;
    const usedCell =
      used.length === 0 ? dash : `${(100 * mean(used)).toFixed(1)} %${over > 0 ? ` (${over}/${done.length} over)` : ''}`;
    const epochs = done.map((r) => r.epochs).filter((v): v is number => v !== null);
    const epochCell = epochs.length === 0 ? dash : epochs.every((e) => e === epochs[0]) ? String(epochs[0]) : mean(epochs).toFixed(1);
    const walls = done.map((r) => r.wallMs).filter((v): v is number => v !== null);
    const stops = [...new Set(done.map((r) => r.stopReason).filter((v): v is string => v !== null))];
    return [
      label === plan.reference ? `${label} (reference)` : label,
      meanStd(accs),
      ...seedCells,
      ...costCells,
      usedCell,
      epochCell,
      walls.length === 0 ? dash : formatDuration(mean(walls)),
      stops.length === 0 ? dash : stops.join(', '),
    ];
  });
  return { kind: 'table', head, rows: body };
}

function pairedBlocks(plan: StudyPlan, results: StudyResults, budget: StudyBudget, device: string | null): ReportBlock[] {
  const ref = plan.reference;
  if (ref === null) return [];
  const rows = groupRows(results, budget, device);
  const seedMap = (label: string): Map<number, number> =>
    new Map(doneAcc(rows.get(label) ?? []).map((r) => [r.seed, r.testAccuracy as number]));
  const refMap = seedMap(ref);
  const body = plan.methods
    .filter((l) => l !== ref)
    .map((label) => {
      const c = pairedComparison(seedMap(label), refMap);
      if (c.n === 0) return [label, '0', dash, 'no seed finished for both', dash];
      const diff = `${c.mean >= 0 ? '+' : ''}${(100 * c.mean).toFixed(2)}`;
      const ci = c.ci95 === null ? 'n = 1: no interval' : `[${(100 * c.ci95[0]).toFixed(2)}, ${(100 * c.ci95[1]).toFixed(2)}]`;
      return [label, String(c.n), diff, ci, `${c.wins}/${c.n}`];
    });
  return [
    { kind: 'heading', level: 3, text: `Paired comparison with ${ref}` },
    {
      kind: 'paragraph',
      text: `Test accuracy of each method minus that of ${ref} on the same seed (same data subset and initialisation), in percentage points; the 95 % interval is mean ± t(0.975, n − 1) · s / √n over the n seeds both finished.`,
    },
    { kind: 'table', head: ['method', 'n', `mean Δ vs ${ref} (pp)`, '95 % CI (pp)', 'seeds better'], rows: body },
  ];
}

function costPoints(plan: StudyPlan, results: StudyResults, device: string | null): CostPoint[] {
  const unit = plan.budgets[0]?.unit ?? 'macs';
  const raw: Omit<CostPoint, 'onFront'>[] = [];
  for (const budget of plan.budgets) {
    const rows = groupRows(results, budget, device);
    for (const label of plan.methods) {
      const done = doneAcc(rows.get(label) ?? []).filter((r) => r.cost[unit] !== null);
      if (done.length === 0) continue;
      const accs = done.map((r) => 100 * (r.testAccuracy as number));
      const m = mean(accs);
      const s = accs.length > 1 ? sampleStd(accs) : 0;
      raw.push({
        method: label,
        budget: formatBudget(budget),
        cost: mean(done.map((r) => r.cost[unit] as number)),
        accuracy: m,
        low: m - s,
        high: m + s,
        seeds: done.length,
      });
    }
  }
  const front = new Set(paretoFront(raw.map((p) => ({ cost: p.cost, accuracy: p.accuracy }))));
  return raw.map((p, i) => ({ ...p, onFront: front.has(i) }));
}

function roundMeans(studyDir: string, plan: StudyPlan, results: StudyResults, budget: StudyBudget, device: string | null): RoundMean[] {
  const rows = groupRows(results, budget, device);
  const out: RoundMean[] = [];
  for (const label of plan.methods) {
    // Seeds share the schedule: average each step (seed, round k, final) over the seeds that logged it.
    const perStep = new Map<string, { order: number; epochs: number[]; accs: number[] }>();
    for (const r of rows.get(label) ?? []) {
      readRoundCurve(join(studyDir, r.dir)).forEach((p, order) => {
        if (p.valAccuracy === null || p.epochs === null) return;
        const step = p.type === 'round' ? `round ${p.round}` : p.type;
        const entry = perStep.get(step) ?? { order, epochs: [], accs: [] };
        entry.epochs.push(p.epochs);
        entry.accs.push(100 * p.valAccuracy);
        perStep.set(step, entry);
      });
    }
    for (const [step, { epochs, accs }] of [...perStep.entries()].sort((a, b) => a[1].order - b[1].order)) {
      const m = mean(accs);
      const s = accs.length > 1 ? sampleStd(accs) : 0;
      out.push({ method: label, step, epochs: mean(epochs), accuracy: m, low: m - s, high: m + s });
    }
  }
  return out;
}

function widthMeans(plan: StudyPlan, results: StudyResults, budget: StudyBudget, device: string | null): { layers: string[]; widths: WidthMean[] } {
  const rows = groupRows(results, budget, device);
  const layers: string[] = [];
  const widths: WidthMean[] = [];
  for (const label of plan.methods) {
    const done = (rows.get(label) ?? []).filter((r) => r.status === 'done');
    const perLayer = new Map<string, number[]>();
    for (const r of done) {
      for (const [layer, w] of Object.entries(r.widths)) {
        if (!layers.includes(layer)) layers.push(layer);
        const list = perLayer.get(layer) ?? [];
        list.push(w);
        perLayer.set(layer, list);
      }
    }
    for (const [layer, ws] of perLayer) widths.push({ method: label, layer, width: mean(ws) });
  }
  return { layers, widths };
}

/** Builds the report's blocks and plot specs from the plan, the results and the trials' event logs. */
export function buildReport(studyDir: string, plan: StudyPlan, results: StudyResults): StudyReport {
  const blocks: ReportBlock[] = [];
  const plots: ReportPlot[] = [];
  const unit = plan.budgets[0]?.unit ?? 'macs';
  const { total, done, failed, incomplete } = results.counts;
  const title = `Study ${plan.study}`;
  blocks.push({ kind: 'heading', level: 1, text: title });
  if (plan.description !== undefined) blocks.push({ kind: 'paragraph', text: plan.description });
  blocks.push({
    kind: 'list',
    items: [
      `search space: \`${plan.space.id}\` (content sha256 ${plan.space.sha256.slice(0, 12)})`,
      `methods: ${plan.methods.join(', ')}${plan.reference === null ? '' : `; reference: ${plan.reference}`}`,
      `budgets: ${plan.budgets.map(formatBudget).join(', ')}`,
      `devices: ${plan.devices.map(deviceName).join(', ')}`,
      `seeds: ${plan.seeds.join(', ')}`,
      `trials: ${total} (${done} done, ${failed} failed, ${incomplete} not finished)`,
    ],
  });
  blocks.push({
    kind: 'paragraph',
    text: 'Accuracies are final test accuracies in percent (mean ± sample standard deviation over seeds, then each seed). Costs are the final model\'s, averaged over the seeds that finished. The per-round plots show validation accuracy after seed training, after each round and after any final training, at the number of epochs trained so far (mean ± 1 std over seeds). Regenerate with `mitosis report <dir>`.',
  });

  for (const device of plan.devices) {
    const dName = deviceName(device);
    blocks.push({ kind: 'heading', level: 2, text: `Accuracy vs cost · ${deviceNote(results, device)}` });
    const points = costPoints(plan, results, device);
    if (points.length === 0) {
      blocks.push({ kind: 'paragraph', text: 'No finished trial has a cost in this unit yet.' });
    } else {
      const file = `plots/accuracy-vs-cost-${slug(dName)}.svg`;
      const plotTitle = `Test accuracy vs ${unit} · ${dName}`;
      plots.push({ file, title: plotTitle, spec: accuracyVsCostSpec(plotTitle, unit, plan.methods, points) });
      blocks.push({ kind: 'plot', file, title: plotTitle });
      blocks.push({
        kind: 'paragraph',
        text: 'Points are means over seeds, bars mean ± 1 std; the dashed line joins the Pareto front (no other point is both cheaper and more accurate).',
      });
      const sorted = [...points].sort((a, b) => a.cost - b.cost || b.accuracy - a.accuracy);
      blocks.push({
        kind: 'table',
        head: ['method', 'budget', `mean cost (${unit})`, 'mean test accuracy %', 'seeds', 'Pareto front'],
        rows: sorted.map((p) => [p.method, p.budget, formatCount(p.cost, unit), p.accuracy.toFixed(2), String(p.seeds), p.onFront ? 'yes' : '']),
      });
    }
  }

  for (const budget of plan.budgets) {
    for (const device of plan.devices) {
      const dName = deviceName(device);
      const groupTitle = `${formatBudget(budget)} · ${deviceNote(results, device)}`;
      blocks.push({ kind: 'heading', level: 2, text: groupTitle });
      blocks.push(methodTable(plan, results, budget, device));
      blocks.push(...pairedBlocks(plan, results, budget, device));
      const tag = `${slug(`${budget.value}${budget.unit}`)}-${slug(dName)}`;
      const rounds = roundMeans(studyDir, plan, results, budget, device);
      if (rounds.length > 0) {
        const file = `plots/rounds-${tag}.svg`;
        const t = `Validation accuracy per round · ${formatBudget(budget)} · ${dName}`;
        plots.push({ file, title: t, spec: accuracyPerRoundSpec(t, plan.methods, rounds) });
        blocks.push({ kind: 'plot', file, title: t });
      }
      const { layers, widths } = widthMeans(plan, results, budget, device);
      if (widths.length > 0) {
        const file = `plots/widths-${tag}.svg`;
        const t = `Final widths per layer · ${formatBudget(budget)} · ${dName}`;
        plots.push({ file, title: t, spec: widthsSpec(t, plan.methods, layers, widths) });
        blocks.push({ kind: 'plot', file, title: t });
      }
    }
  }

  const broken = results.trials.filter((r) => r.status !== 'done');
  if (broken.length > 0) {
    blocks.push({ kind: 'heading', level: 2, text: 'Trials without a result' });
    blocks.push({
      kind: 'table',
      head: ['trial', 'method', 'budget', 'device', 'seed', 'status', 'log'],
      rows: broken.map((r) => [
        r.trial,
        r.label,
        formatBudget(r.budget),
        deviceName(r.device),
        String(r.seed),
        r.status === 'failed'
          ? `failed (exit ${r.exitCode ?? 'signal'})${r.error === null ? '' : `: ${r.error.length > 160 ? `${r.error.slice(0, 157)}...` : r.error}`}`
          : 'not finished',
        `${r.dir}/trial.log`,
      ]),
    });
    blocks.push({ kind: 'paragraph', text: 'Run `mitosis compare` on this directory again to retry them; finished trials are kept.' });
  }
  blocks.push({ kind: 'heading', level: 2, text: 'Files' });
  blocks.push({
    kind: 'list',
    items: [
      '`results.csv`, `results.json`: one row per trial (configuration, status, final accuracies, cost in every unit, widths)',
      '`trials/<id>/`: each trial\'s run directory (`summary.json`, `events.jsonl`, `model/`, `trial.log`, `trial.json`)',
      '`plan.json`, `study.json`: the study and its expansion into trials',
    ],
  });
  return { title, blocks, plots };
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The report as Markdown; plots are linked as `plots/*.svg`. */
export function toMarkdown(report: StudyReport): string {
  const out: string[] = [];
  for (const b of report.blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`, '');
        break;
      case 'paragraph':
        out.push(b.text, '');
        break;
      case 'list':
        out.push(...b.items.map((i) => `- ${i}`), '');
        break;
      case 'table':
        out.push(`| ${b.head.map(mdCell).join(' | ')} |`, `|${b.head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
        for (const row of b.rows) out.push(`| ${row.map(mdCell).join(' | ')} |`);
        out.push('');
        break;
      case 'plot':
        out.push(`![${b.title}](${b.file})`, '');
        break;
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const inlineHtml = (s: string): string => escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>');

/**
 * The report as one self-contained HTML file: styles inline, every plot's SVG inlined (from `svgs`, keyed by
 * plot file), no script and no external URL.
 */
export function toHtml(report: StudyReport, svgs: ReadonlyMap<string, string>): string {
  const body: string[] = [];
  for (const b of report.blocks) {
    switch (b.kind) {
      case 'heading':
        body.push(`<h${b.level}>${inlineHtml(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        body.push(`<p>${inlineHtml(b.text)}</p>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ul>`);
        break;
      case 'table':
        body.push(
          `<table><thead><tr>${b.head.map((h) => `<th>${inlineHtml(h)}</th>`).join('')}</tr></thead><tbody>${b.rows
            .map((r) => `<tr>${r.map((c, i) => `<td${i === 0 ? ' class="l"' : ''}>${inlineHtml(c)}</td>`).join('')}</tr>`)
            .join('')}</tbody></table>`,
        );
        break;
      case 'plot':
        body.push(`<figure>${svgs.get(b.file) ?? ''}<figcaption>${inlineHtml(b.title)}</figcaption></figure>`);
        break;
    }
  }
  const style = [
    'body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}',
    'table{border-collapse:collapse;margin:1em 0;font-size:0.9em}',
    'th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}',
    'td.l,th:first-child{text-align:left}',
    'th{background:#f3f3f3}',
    'code{background:#f3f3f3;padding:0 0.2em}',
    'figure{margin:1em 0}figcaption{font-size:0.85em;color:#555}',
  ].join('');
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeHtml(report.title)}</title>\n<style>${style}</style>\n</head>\n<body>\n${body.join('\n')}\n</body>\n</html>\n`;
}

/**
 * Regenerates everything a study directory reports from its `plan.json` and trial directories:
 * `results.json`, `results.csv`, `plots/*.svg` (vega-lite rendered headlessly), `report.md` and a
 * self-contained `report.html`. Safe to run while nothing else writes the directory; a partial study gives
 * a partial report.
 */
export async function writeReport(studyDir: string): Promise<ReportFiles> {
  const plan = readPlan(studyDir);
  const results = writeResults(studyDir, plan);
  const report = buildReport(studyDir, plan, results);
  const plotDir = join(studyDir, STUDY_FILES.plots);
  try {
    rmSync(plotDir, { recursive: true, force: true });
    mkdirSync(plotDir, { recursive: true });
  } catch (error) {
    throw fileSystemError(error, plotDir, 'write the report plots');
  }
  const svgs = new Map<string, string>();
  for (const p of report.plots) {
    const svg = await renderSvg(p.spec);
    svgs.set(p.file, svg);
    writeFileAtomic(join(studyDir, p.file), `${svg}\n`);
  }
  const markdown = join(studyDir, STUDY_FILES.reportMd);
  const html = join(studyDir, STUDY_FILES.reportHtml);
  writeFileAtomic(markdown, toMarkdown(report));
  writeFileAtomic(html, toHtml(report, svgs));
  return {
    markdown,
    html,
    resultsJson: join(studyDir, STUDY_FILES.results),
    resultsCsv: join(studyDir, STUDY_FILES.csv),
    plots: report.plots.map((p) => join(studyDir, p.file)),
    results,
  };
}
