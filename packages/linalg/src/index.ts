export * from './vector.js';
export * from './symmetric-eigen.js';
export * from './explicit-splitting-operator.js';
export * from './test-matrices.js';
export * from './solver-support.js';
