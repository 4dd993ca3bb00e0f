import { NasError, type Dataset, type NetworkSpec } from '@mitosis/core';
import { exclusiveHeapSpan } from '@mitosis/kernels';
import { tf } from '../tf.js';

/** Throws `E_SHAPE_MISMATCH` when the data set's samples do not fit the network's input node. */
export function checkDatasetFits(spec: NetworkSpec, data: Dataset): void {
  const input = spec.nodes.find((n) => n.op === 'input');
  const shape = input?.op === 'input' ? input.shape : [];
  if (shape.length !== data.inputShape.length || shape.some((d, i) => d !== data.inputShape[i])) {
    throw new NasError(
      'E_SHAPE_MISMATCH',
      `Data set "${data.name}" has samples of shape [${data.inputShape.join(', ')}] but network ` +
        `"${spec.name ?? 'network'}" expects [${shape.join(', ')}]`,
      { dataset: data.name, inputShape: [...data.inputShape], expected: [...shape] },
    );
  }
}

/**
 * Builds the `[n, ...inputShape]` input and the target tensor (`[n]` labels or `[n, targetSize]` values) of the
 * samples `indices` (a contiguous range of `order`). The caller disposes both.
 */
export function batchTensors(
  data: Dataset,
  order: Int32Array | null,
  start: number,
  end: number,
): { x: tf.Tensor; y: tf.Tensor } {
  const n = end - start;
  const sample = data.inputShape.reduce((a, b) => a * b, 1);
  const perTarget = data.task === 'classification' ? 1 : data.targetSize;
  if (order === null) {
    return {
      x: tf.tensor(data.x.subarray(start * sample, end * sample), [n, ...data.inputShape], 'float32'),
      y: tf.tensor(data.y.subarray(start * perTarget, end * perTarget), perTarget === 1 && data.task === 'classification' ? [n] : [n, perTarget], 'float32'),
    };
  }
  const xShape = [n, ...data.inputShape];
  const yShape = data.task === 'classification' ? [n] : [n, perTarget];
  const gather = (xb: Float32Array, yb: Float32Array): void => {
    for (let i = 0; i < n; i++) {
      const s = order[start + i] as number;
      xb.set(data.x.subarray(s * sample, (s + 1) * sample), i * sample);
      yb.set(data.y.subarray(s * perTarget, (s + 1) * perTarget), i * perTarget);
    }
  };
  const direct = heapTensors(xShape, yShape);
  if (direct !== undefined) {
    gather(direct.xb, direct.yb);
    return { x: direct.x, y: direct.y };
  }
  const xb = new Float32Array(n * sample);
  const yb = new Float32Array(n * perTarget);
  gather(xb, yb);
  return { x: tf.tensor(xb, xShape, 'float32'), y: tf.tensor(yb, yShape, 'float32') };
}

/**
 * On wasm: two new float32 tensors and views of their heap buffers, so that a batch is gathered straight into
 * the tensors (one copy instead of a gather into a JavaScript array and a copy into the heap). Undefined
 * elsewhere. The views are valid until the next allocation.
 */
function heapTensors(xShape: number[], yShape: number[]): { x: tf.Tensor; y: tf.Tensor; xb: Float32Array; yb: Float32Array } | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as { makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo };
  const x = tf.engine().makeTensorFromTensorInfo(backend.makeOutput(xShape, 'float32'));
  const y = tf.engine().makeTensorFromTensorInfo(backend.makeOutput(yShape, 'float32'));
  const xs = exclusiveHeapSpan(x);
  const ys = exclusiveHeapSpan(y);
  if (xs === undefined || ys === undefined) {
    tf.dispose([x, y]);
    return undefined;
  }
  return { x, y, xb: xs.heap.subarray(xs.index, xs.index + xs.size), yb: ys.heap.subarray(ys.index, ys.index + ys.size) };
}
