import type { Budget, CostUnit } from '@mitosis/core';
import type { RunEvent, RunSummary } from '@mitosis/growth';
import { formatDuration } from '@mitosis/experiments';

/** What a progress line needs beyond the event: the unit costs are shown in and the run's budget. */
export interface RunLineContext {
  /** The budget's unit, or (without a budget) the unit the run prices in: ms with a profile, else MACs. */
  readonly unit: CostUnit;
  readonly budget: Budget | null;
  /** The number of rounds asked for (shown as `round r/n`). */
  readonly rounds: number;
}

const PHASE_NAMES: Readonly<Record<string, string>> = {
  train: 'train',
  score: 'score',
  plan: 'plan',
  apply: 'apply',
  fineTune: 'fine-tune',
  evaluate: 'evaluate',
};

/** A phase time: one decimal under 10 s, whole seconds under a minute, then minutes. */
export function formatPhaseTime(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  return formatDuration(ms);
}

/** A cost with its unit: counts with an SI prefix (`412.3k macs`), times and energies with 3 significant digits. */
export function formatCost(value: number, unit: CostUnit): string {
  if (unit === 'ms' || unit === 'mJ') return `${Number(value.toPrecision(3))} ${unit}`;
  const abs = Math.abs(value);
  const [scale, prefix] = abs >= 1e9 ? [1e9, 'G'] : abs >= 1e6 ? [1e6, 'M'] : abs >= 1e3 ? [1e3, 'k'] : [1, ''];
  return `${Number((value / scale).toPrecision(4))}${prefix} ${unit}`;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A loss: 4 decimals, or 3 significant digits in exponent form below 0.001 (a toy regression's 1e-12). */
export function formatLoss(loss: number): string {
  return loss !== 0 && Math.abs(loss) < 1e-3 ? loss.toExponential(2) : loss.toFixed(4);
}

/**
 * Accuracy and loss of a phase's metrics: the test set's, else the validation set's, else the last training
 * epoch's (a toy regression has no accuracy: loss only).
 */
function describeQuality(e: RunEvent): string {
  for (const split of ['test', 'val', 'train'] as const) {
    const loss = num(e[`${split}Loss`]);
    if (loss === null) continue;
    const acc = num(e[`${split}Accuracy`]);
    return acc === null ? `${split} loss ${formatLoss(loss)}` : `${split} acc ${(100 * acc).toFixed(2)}%, loss ${formatLoss(loss)}`;
  }
  return 'no loss measured';
}

/** The cost in the context's unit and, with a budget, the share of it. */
function describeCost(e: RunEvent, ctx: RunLineContext): string {
  const cost = (e['cost'] ?? {}) as Partial<Record<CostUnit, number | null>>;
  const value = num(cost[ctx.unit]);
  if (value === null) return `${ctx.unit} n/a`;
  if (ctx.budget === null) return formatCost(value, ctx.unit);
  return `${formatCost(value, ctx.unit)} = ${((100 * value) / ctx.budget.value).toFixed(1)}% of ${formatCost(ctx.budget.value, ctx.budget.unit)}`;
}

function describeTimes(e: RunEvent): string | null {
  const t = e['timeMs'];
  if (typeof t !== 'object' || t === null) return null;
  const parts = Object.entries(t as Record<string, unknown>)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([phase, ms]) => `${PHASE_NAMES[phase] ?? phase} ${formatPhaseTime(ms)}`);
  return parts.length === 0 ? null : parts.join(', ');
}

/**
 * The console line of one run event: the trained start network (`seed`), each round (with the change it made)
 * and the epochs trained after an early stop (`final`) get one line each — accuracy and loss, cost in the
 * budget's unit and its share of the budget, time per phase; a round that changes nothing (`stop`) says why.
 * Other events have no line (null).
 */
export function formatRunEvent(e: RunEvent, ctx: RunLineContext): string | null {
  let head: string;
  if (e.type === 'seed') head = `seed      ${String(e['epochs'] ?? 0)} epochs`;
  else if (e.type === 'final') head = `final     ${String(e['epochs'] ?? 0)} epochs`;
  else if (e.type === 'round') {
    const change = (e['change'] ?? {}) as { action?: string; count?: number };
    const sign = change.action === 'prune' ? '−' : change.action === 'grow' ? '+' : '';
    head = `round ${e.round ?? '?'}/${ctx.rounds} ${sign}${change.count ?? 0} ch`;
  } else if (e.type === 'stop') {
    return `round ${e.round ?? '?'}/${ctx.rounds} no change, the run stops (${String(e['reason'] ?? 'unknown')})`;
  } else return null;
  const times = describeTimes(e);
  return [head.padEnd(20), describeQuality(e), describeCost(e, ctx), ...(times === null ? [] : [times])].join(' | ');
}

/** The human rendering of a finished run: what ran, how it ended, where it ran, budget, wall time and files. */
export function renderSummary(s: RunSummary): string {
  const acc = s.final.testAccuracy === null ? `test loss ${formatLoss(s.final.testLoss)}` : `test accuracy ${(100 * s.final.testAccuracy).toFixed(2)}%, loss ${formatLoss(s.final.testLoss)}`;
  const cost = Object.entries(s.cost)
    .map(([k, v]) => `${k} ${v === null || v === undefined ? 'n/a' : formatCost(v, k as CostUnit).replace(/ \S+$/, '')}`)
    .join(', ');
  const budget =
    s.budget === null
      ? 'none'
      : `${formatCost(s.budget.value, s.budget.unit)}: ${s.budgetUsed === null ? 'n/a' : `${(100 * s.budgetUsed).toFixed(1)}% used`}${s.budgetMet === false ? ' — NOT MET' : ''}`;
  const phases = Object.entries(s.phaseMs)
    .filter(([, ms]) => ms > 0)
    .map(([phase, ms]) => `${PHASE_NAMES[phase] ?? phase} ${formatPhaseTime(ms)}`)
    .join(', ');
  const verb = s.kind === 'grower' ? 'grew' : s.kind === 'pruner' ? 'pruned' : s.kind === 'resizer' ? 'resized' : 'ran';
  return [
    `${verb} ${s.space} with ${s.method}: ${s.rounds} round(s), stopped by ${s.stopReason}, ${s.epochs.total} epochs`,
    `  ${acc}; ${cost}`,
    `  widths:  ${Object.entries(s.widths).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `  device:  ${s.device ?? 'none (no hardware profile: MACs and params only)'}`,
    `  budget:  ${budget}`,
    `  time:    ${formatPhaseTime(s.wallMs)} wall (${phases})`,
    `  model:   ${s.model}`,
    `  log:     ${s.log}`,
    `  summary: ${s.summary}`,
    '',
  ].join('\n');
}
