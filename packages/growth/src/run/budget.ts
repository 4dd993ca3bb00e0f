import type { CostUnit } from '@mitosis/core';

export { parseBudget, type Budget } from '@mitosis/core';

/** The cost model that measures a unit: `macs`, `params`, `latency` (ms) or `energy` (mJ). */
export function costModelForUnit(unit: CostUnit): string {
  return { macs: 'macs', params: 'params', ms: 'latency', mJ: 'energy' }[unit];
}
