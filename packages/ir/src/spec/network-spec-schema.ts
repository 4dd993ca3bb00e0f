import { ACTIVATIONS, NODE_OPS } from '@mitosis/core';

/** `$id` of the network-spec JSON Schema (also written to `schemas/network-spec.schema.json`). */
export const NETWORK_SPEC_SCHEMA_ID = 'https://mitosis.dev/schemas/network-spec.schema.json';

const name = { type: 'string', minLength: 1, description: 'Unique node name; prefix of its weights.' };
const inputs = {
  type: 'array',
  items: { type: 'string', minLength: 1 },
  description: 'Names of the nodes this node reads, in order.',
};
const pair = (what: string, min: number) => ({
  type: 'array',
  items: { type: 'integer', minimum: min },
  minItems: 2,
  maxItems: 2,
  description: `${what} [height, width].`,
});
const padding = { enum: ['same', 'valid'], description: "TF padding rule ('same': out = ceil(in/s))." };
const useBias = { type: 'boolean', description: 'Whether the layer has a bias.' };

/** One `if op = X then <exact property set>` branch. */
function opBranch(op: string, extra: Record<string, object>, required: readonly string[]): object {
  return {
    if: { properties: { op: { const: op } }, required: ['op'] },
    then: {
      properties: { name: true, op: true, inputs: true, ...extra },
      required: ['name', 'op', 'inputs', ...required],
      additionalProperties: false,
    },
  };
}

/**
 * JSON Schema (draft-07) of `NetworkSpec` (`@mitosis/core` network/network-spec.ts). Structure only:
 * names, ops and per-op attributes. Graph semantics (unique names, known inputs, acyclicity, arity) are
 * checked by `parseNetworkSpec`.
 */
export const networkSpecSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: NETWORK_SPEC_SCHEMA_ID,
  title: 'mitosis network spec',
  type: 'object',
  required: ['format', 'version', 'nodes', 'output'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    format: { const: 'mitosis-network' },
    version: { const: 1 },
    name: { type: 'string' },
    output: { type: 'string', minLength: 1, description: 'The node whose value is the network output.' },
    nodes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'op'],
        properties: {
          name,
          op: { enum: [...NODE_OPS] },
          inputs,
        },
        allOf: [
          {
            if: { properties: { op: { const: 'input' } }, required: ['op'] },
            then: {
              properties: {
                name: true,
                op: true,
                inputs: { type: 'array', maxItems: 0 },
                shape: {
                  type: 'array',
                  items: { type: 'integer', minimum: 1 },
                  minItems: 1,
                  maxItems: 3,
                  description: 'Shape without the batch dimension (NHWC), e.g. [28, 28, 1] or [4].',
                },
              },
              required: ['name', 'op', 'shape'],
              additionalProperties: false,
            },
          },
          opBranch('dense', { units: { type: 'integer', minimum: 1 }, useBias }, ['units', 'useBias']),
          opBranch(
            'conv2d',
            {
              filters: { type: 'integer', minimum: 1 },
              kernelSize: pair('Kernel size', 1),
              strides: pair('Strides', 1),
              padding,
              useBias,
            },
            ['filters', 'kernelSize', 'strides', 'padding', 'useBias'],
          ),
          opBranch(
            'depthwiseConv2d',
            { kernelSize: pair('Kernel size', 1), strides: pair('Strides', 1), padding, useBias },
            ['kernelSize', 'strides', 'padding', 'useBias'],
          ),
          opBranch(
            'batchNorm',
            {
              epsilon: { type: 'number', exclusiveMinimum: 0, description: 'Added to the variance.' },
              momentum: { type: 'number', minimum: 0, maximum: 1 },
            },
            ['epsilon', 'momentum'],
          ),
          opBranch('activation', { activation: { enum: [...ACTIVATIONS] } }, ['activation']),
          opBranch('maxPool', { poolSize: pair('Pool size', 1), strides: pair('Strides', 1), padding }, [
            'poolSize',
            'strides',
            'padding',
          ]),
          opBranch('avgPool', { poolSize: pair('Pool size', 1), strides: pair('Strides', 1), padding }, [
            'poolSize',
            'strides',
            'padding',
          ]),
          opBranch('globalAvgPool', {}, []),
          opBranch('flatten', {}, []),
          opBranch('add', {}, []),
          opBranch('concat', {}, []),
          opBranch('dropout', { rate: { type: 'number', minimum: 0, exclusiveMaximum: 1 } }, ['rate']),
        ],
      },
    },
  },
} as const;
