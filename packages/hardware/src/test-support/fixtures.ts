import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OfaNetConfig } from '../importers/ofa-net-config.js';

/** A sub-net record of `fixtures/ofa-subnets.json` (see its `meta` for sources and how the sums were computed). */
export interface OfaFixtureNet {
  readonly id: string;
  readonly device?: string | null;
  readonly image_size: number;
  readonly derived_macs?: number;
  readonly net_config: OfaNetConfig;
  readonly note10_lut_sum_ms?: number;
  readonly note10_lut_missing?: number;
}

/** Reads `packages/hardware/fixtures/<name>` (tests run from `dist/**`). */
export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url)), 'utf8')) as T;
}

export function ofaFixture(): { subnets: OfaFixtureNet[]; synthetic_w12: OfaFixtureNet[] } {
  return readFixture('ofa-subnets.json');
}
