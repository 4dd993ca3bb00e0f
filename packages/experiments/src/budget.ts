import { COST_UNITS, NasError, type CostUnit } from '@mitosis/core';

/** A cost target: a value in a unit (`400000` macs, `2` ms). */
export interface StudyBudget {
  readonly value: number;
  readonly unit: CostUnit;
}

const SCALE: Readonly<Record<string, number>> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

/**
 * Reads `<value><unit>` (`300kmacs`, `1.5Mparams`, `2ms`, `40mJ`): unit one of macs, params, ms, mJ, with an
 * optional k/M/G prefix on counts (not on ms or mJ, where `m` would be ambiguous). `E_USAGE` otherwise.
 */
export function parseBudgetText(text: string): StudyBudget {
  const m = /^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKMG]?)\s*(macs|params|ms|mJ)\s*$/.exec(text);
  if (m === null) {
    throw new NasError(
      'E_USAGE',
      `Cannot read the budget "${text}": write <value><unit> with unit one of ${COST_UNITS.join(', ')} (e.g. 300kmacs, 2ms, 40mJ)`,
      { budget: text, units: [...COST_UNITS] },
    );
  }
  const [, num, prefix, unit] = m as unknown as [string, string, string, CostUnit];
  if (prefix !== '' && (unit === 'ms' || unit === 'mJ')) {
    throw new NasError('E_USAGE', `The budget "${text}" puts a count prefix (${prefix}) on ${unit}`, { budget: text });
  }
  const value = Number(num) * (SCALE[prefix] ?? 1);
  if (!(value > 0)) throw new NasError('E_USAGE', `The budget "${text}" must be positive`, { budget: text });
  return { value, unit };
}

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
