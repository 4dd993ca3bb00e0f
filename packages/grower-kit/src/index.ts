/**
 * `@mitosis/grower-kit`: selection rules and grower helpers shared by the s2d, signed,
 * energy-aware and baseline growers.
 */
export * from './selection.js';
export * from './growth-support.js';
