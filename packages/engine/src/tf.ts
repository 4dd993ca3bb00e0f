/**
 * The one TF.js core copy every mitosis package uses. Importing `@tensorflow/tfjs-layers` here registers the
 * gradient functions of every core op (the Node bundle of tfjs-core registers none), and the two pure
 * JavaScript/WebAssembly backends register themselves on import. TF.js's console warnings (the cpu backend's
 * "install tfjs-node" banner among them) are off: see `silenceTfjsWarnings` in @mitosis/kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import '@mitosis/kernels';

export { tf };
