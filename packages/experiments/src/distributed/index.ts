export * from './redis-url.js';
export * from './connection.js';
export * from './protocol.js';
export * from './artifacts.js';
export * from './coordinator.js';
export * from './worker.js';
