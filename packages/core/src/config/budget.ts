import { NasError } from '../errors.js';
import { COST_UNITS, type CostUnit } from '../contracts/cost-model.js';

/** A cost target such as `5ms`, `300Mmacs`, `2.5e6 params`, `40mJ`. */
export interface Budget {
  readonly value: number;
  readonly unit: CostUnit;
}

const SCALE: Readonly<Record<string, number>> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

/**
 * Parses `<value>[k|M|G]<unit>` with unit one of `macs`, `params`, `ms`, `mJ` (SI prefixes only for counts,
 * where `m` would be ambiguous). A malformed text or an unknown unit is `E_USAGE` naming the text and the
 * known units. The one parser of `mitosis run --budget` and of studies.
 */
export function parseBudget(text: string): Budget {
  const m = /^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKMG]?)\s*(macs|params|ms|mJ)\s*$/.exec(text);
  if (m === null) {
    throw new NasError(
      'E_USAGE',
      `Cannot read the budget "${text}": write <value><unit> with unit one of ${COST_UNITS.join(', ')} (e.g. 5ms, 300kmacs, 40mJ)`,
      { budget: text, units: [...COST_UNITS] },
    );
  }
  const [, num, prefix, unit] = m as unknown as [string, string, string, CostUnit];
  if (prefix !== '' && (unit === 'ms' || unit === 'mJ')) {
    throw new NasError('E_USAGE', `The budget "${text}" puts a count prefix (${prefix}) on ${unit}`, { budget: text });
  }
  const value = Number(num) * (SCALE[prefix] ?? 1);
  if (!(value > 0)) throw new NasError('E_USAGE', `The budget "${text}" must be positive`, { budget: text });
  if (!Number.isFinite(value)) throw new NasError('E_USAGE', `The budget "${text}" is too large (it is not a finite number)`, { budget: text });
  return { value, unit };
}
