export * from './errors.js';
export * from './network/network-spec.js';
export * from './config/json-config.js';
export * from './config/budget.js';
export * from './contracts/contribution.js';
export * from './contracts/eigen-solver.js';
export * from './contracts/cost-model.js';
export * from './contracts/channel-plan.js';
export * from './contracts/method.js';
export * from './contracts/grower.js';
export * from './contracts/pruner.js';
export * from './contracts/resizer.js';
export * from './contracts/shrinker.js';
export * from './contracts/extension-points.js';
export * from './plugin/plugin-manifest.js';
export * from './plugin/plugin-loader.js';
export * from './plugin/shared-packages.js';
export * from './data/dataset.js';
export * from './util/random.js';
export * from './util/contained-file.js';
export * from './util/durable-file.js';

/** The type of a contribution's `optionsSchema`, re-exported so that plugins need no ajv dependency of their own. */
export type { JSONSchemaType } from 'ajv';
