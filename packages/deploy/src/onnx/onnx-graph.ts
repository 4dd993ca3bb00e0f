import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';

/**
 * The protobufjs classes generated from `onnx.proto` (the ONNX 1.10 schema: IR version ≤ 8). `onnx-proto` is a
 * CommonJS module, so its namespace is reached through the default import.
 */
export const onnx = onnxProto.onnx;

/** `TensorProto.DataType.FLOAT`. */
const FLOAT = 1;
/** `TensorProto.DataType.INT64`. */
const INT64 = 7;

/** One attribute value: a float, an integer, a list of integers, or a string. */
export type AttributeValue = number | readonly number[] | string | { readonly float: number };

function attribute(name: string, value: AttributeValue): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: [...(value as readonly number[])] };
  return { name, type: T.FLOAT, f: (value as { float: number }).float };
}

/** Little-endian bytes of float32 values (ONNX `raw_data` is little-endian whatever the host). */
function float32Bytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i] as number, true);
  return out;
}

function int64Bytes(data: readonly number[]): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(8 * i, BigInt(data[i] as number), true);
  return out;
}

/** A tensor's type for graph inputs and outputs: float32 of `dims` (a string names a symbolic dimension). */
export function floatValueInfo(name: string, dims: readonly (number | string)[]): O.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/**
 * Accumulates the nodes and initializers of one ONNX graph with unique tensor and node names. Names given are
 * kept when free and otherwise suffixed (`conv1_1`), so mitosis node names survive into the graph where they can.
 */
export class OnnxGraphBuilder {
  readonly nodes: O.INodeProto[] = [];
  readonly initializers: O.ITensorProto[] = [];
  private readonly used = new Set<string>();

  constructor(reserved: readonly string[] = []) {
    for (const r of reserved) this.used.add(r);
  }

  /** `base` if unused, else `base_1`, `base_2`, …; the name is then taken. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a float32 initializer of `shape` and returns its (unique) name. */
  floatTensor(base: string, shape: readonly number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [...shape], dataType: FLOAT, rawData: float32Bytes(data) });
    return name;
  }

  /** Adds a float32 scalar initializer (shape `[]`). */
  scalar(base: string, value: number): string {
    return this.floatTensor(base, [], Float32Array.of(value));
  }

  /** Adds an int64 initializer (1-D) and returns its name. */
  int64Tensor(base: string, data: readonly number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [data.length], dataType: INT64, rawData: int64Bytes(data) });
    return name;
  }

  /**
   * Adds one node of `opType` (default domain) reading `inputs` (an empty string skips an optional input) and
   * returns the name of its single output, `output` when given and free (else made unique from it).
   */
  op(opType: string, inputs: readonly string[], output: string, attributes: Readonly<Record<string, AttributeValue>> = {}): string {
    return this.opTo(this.unique(output), opType, inputs, attributes);
  }

  /** Like {@link op}, but writes exactly `out`: a name reserved at construction (the graph's input and output). */
  opTo(out: string, opType: string, inputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>> = {}): string {
    this.nodes.push({
      opType,
      name: out,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }
}
