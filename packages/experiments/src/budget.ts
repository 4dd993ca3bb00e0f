import { parseBudget, type Budget, type CostUnit } from '@mitosis/core';

/** A cost target: a value in a unit (`400000` macs, `2` ms). */
export type StudyBudget = Budget;

/** Reads `<value><unit>` (`300kmacs`, `1.5Mparams`, `2ms`, `40mJ`) with core's one budget parser. */
export const parseBudgetText = parseBudget;

/** The `--budget` argument of `mitosis run` for a budget: the plain value and the unit (`300000macs`). */
export function budgetArgument(budget: StudyBudget): string {
  return `${budget.value}${budget.unit}`;
}

/** A short human label: `300k macs`, `1.5M params`, `2 ms`. */
export function formatBudget(budget: StudyBudget): string {
  return `${formatCount(budget.value, budget.unit)} ${budget.unit}`;
}

/**
 * A cost value for tables: counts (macs, params) with k/M/G and up to 4 significant digits, times and
 * energies with 4 significant digits.
 */
export function formatCount(value: number, unit: CostUnit): string {
  if (unit === 'macs' || unit === 'params') {
    const abs = Math.abs(value);
    for (const [prefix, scale] of [
      ['G', 1e9],
      ['M', 1e6],
      ['k', 1e3],
    ] as const) {
      if (abs >= scale) return `${Number((value / scale).toPrecision(4))}${prefix}`;
    }
    return `${Number(value.toPrecision(4))}`;
  }
  return `${Number(value.toPrecision(4))}`;
}
