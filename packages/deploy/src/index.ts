export * from './onnx/onnx-model-info.js';
export * from './onnx/onnx-export.js';
export * from './onnx/onnx-verify.js';
export { onnx } from './onnx/onnx-graph.js';
export * from './predict/predict.js';
export * from './model-source.js';
export * from './export-model.js';
export * from './model-card.js';
export * from './ort-profile.js';
