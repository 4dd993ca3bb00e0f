import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { expandStudy, readPlan, STUDY_FILES, TRIAL_FILES, writePlan, type StudyPlan } from './plan.js';
import { writeReport } from './report.js';
import { collectResults, resultsCsv, type StudyResults } from './results.js';
import { fakeStudy, tempDir, writeFakeSpace } from './testing/fixtures.js';

/** A tiny XML tree: enough to check that an SVG is well formed and to count marks. */
interface XmlNode {
  readonly name: string;
  readonly attrs: string;
  readonly children: XmlNode[];
  text: string;
}

function parseXml(text: string): XmlNode {
  const root: XmlNode = { name: '#root', attrs: '', children: [], text: '' };
  const stack: XmlNode[] = [root];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    tag.lastIndex = at;
    m = tag.exec(text);
    if (m === null) throw new Error(`not well formed at ${at}: ${text.slice(at, at + 40)}`);
    at = tag.lastIndex;
    const top = stack[stack.length - 1] as XmlNode;
    if (m[5] !== undefined) {
      top.text += m[5];
      continue;
    }
    const [, close, name, attrs, selfClose] = m as unknown as [string, string, string, string, string];
    if (close === '/') {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
    } else {
      const node: XmlNode = { name, attrs, children: [], text: '' };
      top.children.push(node);
      if (selfClose !== '/') stack.push(node);
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]?.name}>`);
  return root;
}

function findAll(node: XmlNode, pred: (n: XmlNode) => boolean, out: XmlNode[] = []): XmlNode[] {
  if (pred(node)) out.push(node);
  for (const c of node.children) findAll(c, pred, out);
  return out;
}

const hasClass = (cls: string) => (n: XmlNode): boolean => new RegExp(`class="[^"]*\\b${cls}\\b`).test(n.attrs);

/** Items drawn by the named vega-lite mark (`points`, `bars`): the paths of its mark group. */
function markItems(svg: XmlNode, name: string): number {
  const groups = findAll(svg, hasClass(`${name}_marks`));
  assert.equal(groups.length, 1, `one ${name}_marks group`);
  return (groups[0] as XmlNode).children.filter((c) => c.name === 'path').length;
}

const legendLabels = (svg: XmlNode): string[] => findAll(svg, hasClass('role-legend-label')).flatMap((g) => findAll(g, (n) => n.name === 'text').map((t) => t.text));

// Test accuracy per method, budget and seed; undefined: the trial did not run.
const ACC: Record<string, Record<number, (number | undefined)[]>> = {
  'energy-aware': { 300000: [0.8, 0.82], 450000: [0.84, 0.86] },
  'prune-l1': { 300000: [0.78, 0.79], 450000: [0.83, undefined] },
  width: { 300000: [0.79, 0.8], 450000: [0.82, 0.83] },
};
const COST_SHARE: Record<string, number> = { 'energy-aware': 0.9, 'prune-l1': 0.98, width: 0.95 };

/** Writes summary.json and events.jsonl of every trial that "ran", as `mitosis run` would. */
function writeFixtureTrials(studyDir: string, plan: StudyPlan): void {
  for (const t of plan.trials) {
    const acc = ACC[t.label]?.[t.budget.value]?.[t.seed];
    if (acc === undefined) continue;
    const dir = join(studyDir, t.dir);
    mkdirSync(dir, { recursive: true });
    const widths = { conv1: t.label === 'width' ? 12 : 10, conv2: t.budget.value / 15000 };
    const macs = (COST_SHARE[t.label] as number) * t.budget.value;
    const events = [0.7, 0.75, 0.8].map((v, round) => ({
      type: round === 0 ? 'seed' : 'round',
      round,
      trainLoss: 1 - v,
      valAccuracy: v + 0.01 * t.seed,
      testAccuracy: null,
      cost: { macs },
      widths,
      epochs: 4 + 2 * round,
    }));
    writeFileSync(join(dir, TRIAL_FILES.events), `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
    writeFileSync(
      join(dir, TRIAL_FILES.summary),
      JSON.stringify({
        format: 'mitosis-run-summary',
        version: 2,
        method: t.method,
        kind: t.method.startsWith('prune') ? 'pruner' : 'grower',
        device: 'note10-cpu',
        seed: t.seed,
        budget: t.budget,
        budgetUsed: macs / t.budget.value,
        budgetMet: true,
        rounds: 2,
        stopReason: 'rounds',
        epochs: { total: 8, planned: 8 },
        wallMs: 61_000,
        final: { trainLoss: 0.3, valLoss: 0.35, valAccuracy: acc - 0.01, testLoss: 0.4, testAccuracy: acc },
        widths,
        cost: { macs, params: 12000, ms: 0.05, mJ: null },
      }),
    );
  }
}

describe('study report', () => {
  let root: string;
  let cleanup: () => void;
  let studyDir: string;
  let plan: StudyPlan;
  before(() => {
    ({ dir: root, cleanup } = tempDir('report'));
    const space = writeFakeSpace(root);
    const study = fakeStudy(space, {
      methods: [{ id: 'energy-aware' }, { id: 'prune-l1', options: { perRound: 0.2, criterion: 'l1' } }, { id: 'width-multiplier', label: 'width' }],
    });
    plan = expandStudy(study);
    studyDir = join(root, 'study');
    writePlan(studyDir, study, plan);
    writeFixtureTrials(studyDir, plan);
  });
  after(() => cleanup());

  it('rebuilds one row per trial from the trial directories, CSV included', () => {
    const results: StudyResults = collectResults(studyDir, readPlan(studyDir));
    assert.deepEqual(results.counts, { total: 12, done: 11, failed: 0, incomplete: 1 });
    assert.deepEqual(
      results.trials.map((r) => r.trial),
      plan.trials.map((t) => t.id),
    );
    const row = results.trials.find((r) => r.label === 'width' && r.seed === 1 && r.budget.value === 300000);
    assert.deepEqual(
      [row?.status, row?.testAccuracy, row?.cost, row?.runDevice, row?.epochs, row?.widths],
      ['done', 0.8, { macs: 285000, params: 12000, ms: 0.05, mJ: null }, 'note10-cpu', 8, { conv1: 12, conv2: 20 }],
    );
    const csv = resultsCsv(results).trimEnd().split('\n');
    assert.equal(csv.length, 13);
    const pruneLine = csv.find((l) => l.includes(',prune-l1,prune-l1,'));
    assert.match(pruneLine ?? '', /,"\{""perRound"":0\.2,""criterion"":""l1""\}",300000,macs,/);
  });

  it('writes tables of mean ± std and each seed, costs in every priced unit, and paired t intervals', async () => {
    await writeReport(studyDir);
    const md = readFileSync(join(studyDir, STUDY_FILES.reportMd), 'utf8');
    assert.match(md, /^# Study fake$/m);
    assert.match(
      md,
      /\| method \| test accuracy % \(mean ± std\) \| seed 0 \| seed 1 \| macs \| params \| ms \| macs budget used \| epochs \| wall time \| stopped by \|/,
    );
    assert.doesNotMatch(md, /\| mJ \|/);
    assert.match(md, /\| energy-aware \| 81\.00 ± 1\.41 \| 80\.00 \| 82\.00 \| 270k \| 12k \| 0\.05 \| 90\.0 % \| 8 \| 1m01s \| rounds \|/);
    assert.match(md, /\| prune-l1 \| 83\.00 \(n=1\) \| 83\.00 \| not run \|/);
    assert.match(md, /\| width \(reference\) \| 79\.50 ± 0\.71 \|/);
    // energy-aware − width at 300k: +1, +2 pp; t(0.975, 1) = 12.706: 1.5 ± 12.706 · 0.7071 / √2.
    assert.match(md, /\| energy-aware \| 2 \| \+1\.50 \| \[-4\.85, 7\.85\] \| 2\/2 \|/);
    assert.match(md, /\| prune-l1 \| 1 \| \+1\.00 \| n = 1: no interval \| 1\/1 \|/);
    // Pareto front: energy-aware at both budgets; everything else costs more for less.
    const front = md
      .split('\n')
      .filter((l) => l.endsWith('| yes |'))
      .map((l) => l.split(' | ').slice(0, 2).join(' | '));
    assert.deepEqual(front, ['| energy-aware | 300k macs', '| energy-aware | 450k macs']);
    assert.match(md, /default device \(runs priced on note10-cpu\)/);
    assert.match(md, /## Trials without a result[\s\S]*\| prune-l1 \| 450k macs \| default \| 1 \| not finished \|/);
  });

  it('renders every plot as a well-formed SVG with the expected marks', async () => {
    const files = await writeReport(studyDir);
    assert.deepEqual(
      files.plots.map((p) => p.slice(studyDir.length + 1)).sort(),
      [
        'plots/accuracy-vs-cost-default.svg',
        'plots/rounds-300000macs-default.svg',
        'plots/rounds-450000macs-default.svg',
        'plots/widths-300000macs-default.svg',
        'plots/widths-450000macs-default.svg',
      ],
    );
    const svg = (f: string): XmlNode => {
      const text = readFileSync(join(studyDir, 'plots', f), 'utf8');
      assert.ok(text.startsWith('<svg'), f);
      const tree = parseXml(text.trim());
      assert.equal(tree.children.length, 1);
      assert.equal(tree.children[0]?.name, 'svg');
      return tree;
    };
    const methods = ['energy-aware', 'prune-l1', 'width'];
    const acc = svg('accuracy-vs-cost-default.svg');
    assert.equal(markItems(acc, 'points'), 6); // 3 methods × 2 budgets
    assert.deepEqual(legendLabels(acc), methods);
    assert.equal(findAll(acc, hasClass('front_marks')).length, 1);
    const rounds = svg('rounds-450000macs-default.svg');
    assert.equal(markItems(rounds, 'points'), 9); // 3 methods × rounds 0..2
    assert.deepEqual(legendLabels(rounds), methods);
    const widths = svg('widths-300000macs-default.svg');
    assert.equal(markItems(widths, 'bars'), 6); // 3 methods × 2 layers
    const axisLabels = findAll(widths, hasClass('role-axis-label')).flatMap((g) => findAll(g, (n) => n.name === 'text').map((t) => t.text));
    assert.ok(axisLabels.includes('conv1') && axisLabels.includes('conv2'), axisLabels.join(','));
  });

  it('writes a self-contained HTML report with every plot inlined and no external URL', async () => {
    const files = await writeReport(studyDir);
    const html = readFileSync(files.html, 'utf8');
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.equal(html.match(/<svg[\s>]/g)?.length, files.plots.length);
    assert.doesNotMatch(html, /<script|<img|<link/i);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?https?:/i);
    // The only URLs left are SVG namespace declarations.
    assert.doesNotMatch(html.replace(/xmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, ''), /https?:/);
    assert.match(html, /<td class="l">energy-aware<\/td><td>81\.00 ± 1\.41<\/td>/);
  });

  it('regenerates the same report from the same trial directories', async () => {
    await writeReport(studyDir);
    const first = ['reportMd', 'reportHtml', 'results', 'csv'].map((k) => readFileSync(join(studyDir, STUDY_FILES[k as 'reportMd']), 'utf8'));
    await writeReport(studyDir);
    const second = ['reportMd', 'reportHtml', 'results', 'csv'].map((k) => readFileSync(join(studyDir, STUDY_FILES[k as 'reportMd']), 'utf8'));
    assert.deepEqual(second, first);
  });

  it('says which directory is not a study', async () => {
    await assert.rejects(writeReport(root), (e: unknown) => NasError.is(e, 'E_USAGE') && /not a study directory/.test(e.message));
  });
});
