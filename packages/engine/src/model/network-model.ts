import { NasError, SeededRandom, type NetworkSpec, type WeightMap } from '@mitosis/core';
import { tf } from '../tf.js';

/** Parameters that batch norm updates outside the gradient; they are not trained. */
const NON_TRAINABLE = new Set(['movingMean', 'movingVariance']);

/** True for `<node>/<param>` keys that an optimizer updates. */
export function isTrainableWeight(key: string): boolean {
  const param = key.slice(key.lastIndexOf('/') + 1);
  return !NON_TRAINABLE.has(param);
}

/**
 * A network spec bound to TF.js variables, one per `<node>/<param>` of a {@link WeightMap}. Variables are created
 * unnamed (TF.js names must be globally unique, and two models may share node names). Call {@link dispose} when done.
 */
export class NetworkModel {
  /** Variables keyed like the weight map (`conv1/kernel`, `bn1/movingMean`). */
  readonly variables: Map<string, tf.Variable>;
  /** The stream that seeds dropout masks in training mode. */
  readonly rng: SeededRandom;
  private disposed = false;

  constructor(
    readonly spec: NetworkSpec,
    weights: WeightMap,
    options: { rng?: SeededRandom } = {},
  ) {
    this.rng = options.rng ?? new SeededRandom(0);
    this.variables = new Map();
    for (const [key, w] of weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      if (size !== w.data.length) {
        this.dispose();
        throw new NasError(
          'E_SHAPE_MISMATCH',
          `Weight "${key}" has ${w.data.length} values but shape [${w.shape.join(', ')}] needs ${size}`,
          { weight: key, shape: [...w.shape], length: w.data.length },
        );
      }
      const initial = tf.tensor(w.data, [...w.shape], 'float32');
      this.variables.set(key, tf.variable(initial, isTrainableWeight(key)));
      initial.dispose();
    }
  }

  /** The variable of `<node>/<param>`; throws `E_SPEC_INVALID` naming the key when the weight map lacks it. */
  weight(node: string, param: string): tf.Variable {
    const v = this.variables.get(`${node}/${param}`);
    if (v === undefined) {
      throw new NasError('E_SPEC_INVALID', `Node "${node}" has no weight "${node}/${param}" in the weight map`, {
        node,
        weight: `${node}/${param}`,
      });
    }
    return v;
  }

  /** Trainable variables in a stable (insertion) order. */
  trainableVariables(): Map<string, tf.Variable> {
    return new Map([...this.variables].filter(([k]) => isTrainableWeight(k)));
  }

  /** A copy of every variable's current value. */
  toWeightMap(): WeightMap {
    const out: WeightMap = new Map();
    for (const [key, v] of this.variables) {
      out.set(key, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
    }
    return out;
  }

  /** Overwrites variables from `weights` (same keys and shapes). */
  assign(weights: WeightMap): void {
    for (const [key, v] of this.variables) {
      const w = weights.get(key);
      if (w === undefined) throw new NasError('E_SPEC_INVALID', `Weight map lacks "${key}"`, { weight: key });
      tf.tidy(() => v.assign(tf.tensor(w.data, [...w.shape], 'float32')));
    }
  }

  /** Frees every variable. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}
