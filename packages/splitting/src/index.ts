export * from './activation-curvature.js';
export * from './patches.js';
export * from './splitting-operator.js';
export * from './split-scores.js';
export * from './bench-eigen.js';
