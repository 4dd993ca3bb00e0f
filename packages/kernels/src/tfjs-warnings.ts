import * as tf from '@tensorflow/tfjs-core';

/**
 * Turns TF.js's own console warnings off (its production mode, which changes nothing else) or back on. Without
 * it the cpu backend prints, on its first tensor, a banner telling the user to install tfjs-node — which mitosis
 * already picks when it is installed (`useBackend`) and names on its `backend:` line. Runs when this module is
 * first imported; `MITOSIS_TFJS_WARNINGS=1` in the environment keeps the warnings.
 */
export function silenceTfjsWarnings(silent = process.env['MITOSIS_TFJS_WARNINGS'] !== '1'): void {
  tf.env().set('PROD', silent);
}

silenceTfjsWarnings();
