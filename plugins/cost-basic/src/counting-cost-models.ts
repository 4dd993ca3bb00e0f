import type { JSONSchemaType } from 'ajv';
import { injectable } from '@mitosis/core/di';
import type { CostModel, CostModelContribution } from '@mitosis/core';
import { MacsCostModel, ParamsCostModel } from '@mitosis/hardware';

/** The counting models take no options. */
export type CountingOptions = Record<string, never>;

export const countingOptionsSchema: JSONSchemaType<CountingOptions> = {
  type: 'object',
  properties: {},
  required: [],
  additionalProperties: false,
} as unknown as JSONSchemaType<CountingOptions>;

/** `macs`: multiply-accumulates of conv, depthwise and dense layers (OFA's "FLOPs"); every row `counted`. */
@injectable()
export class MacsCostModelContribution implements CostModelContribution<CountingOptions> {
  readonly id = 'macs';
  readonly description = 'Multiply-accumulates of conv, depthwise and dense layers (BN, activations, pooling excluded)';
  readonly unit = 'macs' as const;
  readonly requiresProfile = false;
  readonly optionsSchema = countingOptionsSchema;

  create(): CostModel {
    return new MacsCostModel();
  }
}

/** `params`: trainable parameters (weights, biases, batch-norm γ and β); every row `counted`. */
@injectable()
export class ParamsCostModelContribution implements CostModelContribution<CountingOptions> {
  readonly id = 'params';
  readonly description = 'Trainable parameters: weights, biases, batch-norm gamma/beta';
  readonly unit = 'params' as const;
  readonly requiresProfile = false;
  readonly optionsSchema = countingOptionsSchema;

  create(): CostModel {
    return new ParamsCostModel();
  }
}
