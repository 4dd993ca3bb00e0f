export * from './activation-curvature.js';
export * from './selection.js';
