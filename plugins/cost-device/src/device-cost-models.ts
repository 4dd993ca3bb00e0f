import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { CostModel, CostModelContribution } from '@mitosis/core';
import { EnergyCostModel, LatencyCostModel } from '@mitosis/hardware';

/** Options of the device models: the hardware profile to price against. */
export interface DeviceOptions {
  /** A shipped profile id (`note10-cpu`, `pixel1-cpu`, `myriad-vpu`, `hexagon-dsp`, `local`) or a path to a `.json` profile. */
  readonly profile: string;
}

export const deviceOptionsSchema: JSONSchemaType<DeviceOptions> = {
  type: 'object',
  properties: { profile: { type: 'string', minLength: 1 } },
  required: ['profile'],
  additionalProperties: false,
};

/** `latency` in ms from a hardware profile: table entries, else its fitted fallback (flagged per layer). */
@injectable()
export class LatencyCostModelContribution implements CostModelContribution<DeviceOptions> {
  readonly id = 'latency';
  readonly description = 'Latency (ms) from a hardware profile: lookup table, fitted fallback for missing ops';
  readonly unit = 'ms' as const;
  readonly requiresProfile = true;
  readonly optionsSchema = deviceOptionsSchema;

  /** Loads and validates the profile (`E_PROFILE_INVALID` with pointers) once per model. */
  create(options: DeviceOptions): CostModel {
    return new LatencyCostModel({ profile: options.profile });
  }
}

/** `energy` in mJ from a hardware profile's energy table or energy model; `null` rows where it has none. */
@injectable()
export class EnergyCostModelContribution implements CostModelContribution<DeviceOptions> {
  readonly id = 'energy';
  readonly description = 'Energy (mJ) from a hardware profile energy table or energy model';
  readonly unit = 'mJ' as const;
  readonly requiresProfile = true;
  readonly optionsSchema = deviceOptionsSchema;

  create(options: DeviceOptions): CostModel {
    return new EnergyCostModel({ profile: options.profile });
  }
}
