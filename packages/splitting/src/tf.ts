/**
 * The one TF.js core copy this package uses. Re-exported from one place so that the whole package switches
 * together (the engine owns backend selection).
 */
export * as tf from '@tensorflow/tfjs-core';
