export * from './spec/network-spec-schema.js';
export * from './spec/parse-network-spec.js';
export * from './spec/graph-util.js';
export * from './shape/infer-shapes.js';
export * from './weights/weights.js';
export * from './weights/neuron-params.js';
export * from './testing/example-networks.js';
