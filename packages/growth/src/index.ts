export * from './space/search-space.js';
export * from './run/budget.js';
export * from './run/event-log.js';
export * from './run/checkpoint.js';
export * from './run/grow.js';
export * from './run/run-config.js';
