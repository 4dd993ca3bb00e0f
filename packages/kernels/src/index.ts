export * from './wasm-backend.js';
export * from './install-wasm-kernels.js';
export * from './conv-backprop.js';
export * from './batch-norm.js';
export * from './channel-affine.js';
export * from './sum-channels.js';
export * from './softmax-cross-entropy.js';
export * from './bench/refnet-step.js';
