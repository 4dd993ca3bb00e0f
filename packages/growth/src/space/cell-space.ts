import { ACTIVATIONS, ConfigValidationError, type ActivationKind, type CellEdge, type ConfigProblem, type NetworkNode, type NetworkSpec } from '@mitosis/core';

/**
 * Cell search spaces (AutoShrink, algorithms.md §6.1): the architecture is a stem, a stack of cells and a
 * classifier head. Every cell has the same topology, a DAG over N operation nodes given by an edge mask:
 * vertex 0 is the cell input, vertices 1…N the operation nodes (in the space's `nodes` order), vertex N + 1 the
 * cell output; `mask[i][j] = 1` is an edge i → j (i < j). Where several edges meet, their tensors are added
 * (`merge: "add"`) or concatenated (`"concat"`). A cell whose stride is not 1, or whose input has other
 * channels than the stage's filters, first projects its input (1×1 conv with the stride, batch norm,
 * activation), so every vertex of an add-cell has the stage's shape. The cell compiles to an ordinary network
 * spec, so cost models, training, export and reports see a plain network.
 */

/** The operations a cell node can be. Convolutions are conv → batch norm → activation. */
export type CellOp = 'conv1x1' | 'conv3x3' | 'conv5x5' | 'sepconv3x3' | 'sepconv5x5' | 'maxpool3x3' | 'avgpool3x3';
export const CELL_OPS: readonly CellOp[] = ['conv1x1', 'conv3x3', 'conv5x5', 'sepconv3x3', 'sepconv5x5', 'maxpool3x3', 'avgpool3x3'];

/** A stage: `cells` cells with `filters` channels; the first has the stage's stride. */
export interface CellStage {
  readonly cells: number;
  readonly filters: number;
  readonly stride: 1 | 2;
}

/** The `cell` section of a cell search space. */
export interface CellArchitecture {
  /** Input shape without the batch dimension, `[height, width, channels]`. */
  readonly input: readonly [number, number, number];
  /** The operation of each node (N = its length). */
  readonly nodes: readonly CellOp[];
  readonly merge: 'add' | 'concat';
  readonly activation: ActivationKind;
  /** The stem convolution before the first cell. */
  readonly stem: { readonly filters: number; readonly kernelSize: 1 | 3 | 5; readonly stride: 1 | 2 };
  readonly stages: readonly CellStage[];
  /** Output units of the classifier (after global average pooling). */
  readonly classes: number;
  /** The start cell's edge mask, `(N + 2) × (N + 2)`; absent: fully connected. */
  readonly mask?: readonly (readonly number[])[];
  /**
   * Filters of the seed network (growers, resizers) relative to the full network (AutoShrink, pruners): the
   * seed has `max(1, round(seedScale · filters))` in every stage and the stem; 1 (default) makes them equal.
   */
  readonly seedScale: number;
}

/** An edge mask: `mask[i][j]` is 1 for an edge i → j. */
export type CellMask = readonly (readonly number[])[];

/** JSON Schema of {@link CellArchitecture} (the `cell` property of a search space). */
export const cellArchitectureSchema = {
  type: 'object',
  description: 'A stack of cells sharing one DAG topology (see docs/autoshrink.md); compiled into the seed network.',
  properties: {
    input: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 3, maxItems: 3 },
    nodes: { type: 'array', items: { enum: [...CELL_OPS] }, minItems: 1, maxItems: 16 },
    merge: { enum: ['add', 'concat'], default: 'add' },
    activation: { enum: ACTIVATIONS.filter((a) => a !== 'identity'), default: 'relu' },
    stem: {
      type: 'object',
      properties: {
        filters: { type: 'integer', minimum: 1 },
        kernelSize: { enum: [1, 3, 5], default: 3 },
        stride: { enum: [1, 2], default: 1 },
      },
      required: ['filters'],
      additionalProperties: false,
    },
    stages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          cells: { type: 'integer', minimum: 1, default: 1 },
          filters: { type: 'integer', minimum: 1 },
          stride: { enum: [1, 2], default: 1 },
        },
        required: ['filters'],
        additionalProperties: false,
      },
    },
    classes: { type: 'integer', minimum: 1 },
    mask: { type: 'array', items: { type: 'array', items: { enum: [0, 1] } } },
    seedScale: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 1 },
  },
  required: ['input', 'nodes', 'stem', 'stages', 'classes'],
  additionalProperties: false,
} as const;

/** The fully connected mask over `nodes` operation nodes: every i → j with i < j except input → output. */
export function fullMask(nodes: number): number[][] {
  const size = nodes + 2;
  return Array.from({ length: size }, (_, i) => Array.from({ length: size }, (_, j) => (i < j && !(i === 0 && j === size - 1) ? 1 : 0)));
}

/** Every edge of `mask`, sorted by (from, to). */
export function maskEdges(mask: CellMask): CellEdge[] {
  const out: CellEdge[] = [];
  mask.forEach((row, i) => row.forEach((v, j) => v === 1 && out.push({ from: i, to: j })));
  return out;
}

/** Vertices on some input → output path. */
export function liveVertices(mask: CellMask): boolean[] {
  const size = mask.length;
  const fromInput = new Array<boolean>(size).fill(false);
  const toOutput = new Array<boolean>(size).fill(false);
  fromInput[0] = true;
  for (let j = 1; j < size; j++) for (let i = 0; i < j; i++) if (fromInput[i] && mask[i]![j] === 1) fromInput[j] = true;
  toOutput[size - 1] = true;
  for (let i = size - 2; i >= 0; i--) for (let j = i + 1; j < size; j++) if (toOutput[j] && mask[i]![j] === 1) toOutput[i] = true;
  return fromInput.map((f, v) => f && toOutput[v]!);
}

/** Whether the cell output is reachable from the cell input. */
export function isConnected(mask: CellMask): boolean {
  return liveVertices(mask)[mask.length - 1] === true;
}

/** `mask` with every dead node's edges removed (a dead node is on no input → output path). */
export function pruneDead(mask: CellMask): number[][] {
  const live = liveVertices(mask);
  return mask.map((row, i) => row.map((v, j) => (v === 1 && live[i] && live[j] ? 1 : 0)));
}

/** The live edges of `mask`. */
export function liveEdges(mask: CellMask): CellEdge[] {
  return maskEdges(pruneDead(mask));
}

/** `mask` without `edge`, dead nodes pruned. */
export function removeEdge(mask: CellMask, edge: CellEdge): number[][] {
  return pruneDead(mask.map((row, i) => row.map((v, j) => (i === edge.from && j === edge.to ? 0 : v))));
}

/** The live edges whose removal keeps the output connected to the input. */
export function removableEdges(mask: CellMask): CellEdge[] {
  return liveEdges(mask).filter((e) => isConnected(removeEdge(mask, e)));
}

/** `"i-j"`, the text form of an edge in logs. */
export const edgeName = (e: CellEdge): string => `${e.from}-${e.to}`;

/**
 * The problems of a schema-valid cell section, each with its pointer under `base` (`/cell`): stage strides
 * that shrink the input below one pixel, and a mask of the wrong size, with edges that do not go from a lower to
 * a higher vertex, a direct input → output edge, or no path from the input to the output.
 */
export function cellProblems(cell: CellArchitecture, base = '/cell'): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const size = cell.nodes.length + 2;
  let side = Math.min(cell.input[0], cell.input[1]);
  side = Math.ceil(side / cell.stem.stride);
  cell.stages.forEach((s, i) => {
    side = Math.ceil(side / s.stride);
    if (side < 1) problems.push({ pointer: `${base}/stages/${i}/stride`, message: 'leaves no pixels' });
  });
  if (cell.mask === undefined) return problems;
  if (cell.mask.length !== size) {
    problems.push({ pointer: `${base}/mask`, message: `must have ${size} rows (nodes + 2), has ${cell.mask.length}` });
    return problems;
  }
  let shaped = true;
  cell.mask.forEach((row, i) => {
    if (row.length !== size) {
      problems.push({ pointer: `${base}/mask/${i}`, message: `must have ${size} entries (nodes + 2), has ${row.length}` });
      shaped = false;
    }
  });
  if (!shaped) return problems;
  cell.mask.forEach((row, i) =>
    row.forEach((v, j) => {
      if (v === 1 && j <= i) problems.push({ pointer: `${base}/mask/${i}/${j}`, message: 'must be 0: edges go from a lower to a higher vertex' });
    }),
  );
  if (cell.mask[0]![size - 1] === 1) problems.push({ pointer: `${base}/mask/0/${size - 1}`, message: 'must be 0: the cell input cannot feed the cell output directly' });
  if (problems.length === 0 && !isConnected(cell.mask)) {
    problems.push({ pointer: `${base}/mask`, message: `disconnects the cell output (vertex ${size - 1}) from the cell input (vertex 0)` });
  }
  return problems;
}

/** Throws `E_CONFIG_INVALID` listing {@link cellProblems}. */
export function checkCell(cell: CellArchitecture, source: string, base = '/cell'): void {
  const problems = cellProblems(cell, base);
  if (problems.length > 0) throw new ConfigValidationError(source, problems, 'search space');
}

/** A cell's mask: the given one or the fully connected one. */
export function startMask(cell: CellArchitecture): number[][] {
  return cell.mask === undefined ? fullMask(cell.nodes.length) : cell.mask.map((row) => [...row]);
}

/**
 * Compiles the cell stack with `mask` (dead nodes pruned) into a network spec; `scale` multiplies every filter
 * count (rounded, at least 1). Node names: `stem`, `c<k>_in` (a cell's input projection), `c<k>_n<i>` (node i of
 * cell k; a separable conv's depthwise part is `c<k>_n<i>_dw`), `c<k>_n<i>_merge` and `c<k>_out` (adds or
 * concats), `gap`, `logits`. The mask must connect the output (see {@link cellProblems}).
 */
export function compileCell(cell: CellArchitecture, mask: CellMask, options: { readonly scale?: number; readonly name?: string } = {}): NetworkSpec {
  const scale = options.scale ?? 1;
  const width = (f: number): number => Math.max(1, Math.round(f * scale));
  const live = pruneDead(mask);
  const n = cell.nodes.length;
  const nodes: NetworkNode[] = [{ name: 'input', op: 'input', shape: [...cell.input] }];
  const act = cell.activation;
  const convBnAct = (name: string, input: string, filters: number, k: number, stride: number): string => {
    nodes.push({ name, op: 'conv2d', inputs: [input], filters, kernelSize: [k, k], strides: [stride, stride], padding: 'same', useBias: false });
    nodes.push({ name: `${name}_bn`, op: 'batchNorm', inputs: [name], epsilon: 1e-3, momentum: 0.9 });
    nodes.push({ name: `${name}_act`, op: 'activation', inputs: [`${name}_bn`], activation: act });
    return `${name}_act`;
  };
  const merge = (name: string, inputs: readonly string[]): string => {
    if (inputs.length === 1) return inputs[0]!;
    nodes.push({ name, op: cell.merge, inputs: [...inputs] });
    return name;
  };
  let current = convBnAct('stem', 'input', width(cell.stem.filters), cell.stem.kernelSize, cell.stem.stride);
  let channels = width(cell.stem.filters);
  let k = 0;
  for (const stage of cell.stages) {
    const filters = width(stage.filters);
    for (let c = 0; c < stage.cells; c++, k++) {
      const p = `c${k}`;
      const stride = c === 0 ? stage.stride : 1;
      const out: string[] = new Array<string>(n + 2);
      const outChannels = new Array<number>(n + 2).fill(0);
      if (stride !== 1 || channels !== filters) {
        out[0] = convBnAct(`${p}_in`, current, filters, 1, stride);
        outChannels[0] = filters;
      } else {
        out[0] = current;
        outChannels[0] = channels;
      }
      for (let v = 1; v <= n + 1; v++) {
        const preds: number[] = [];
        for (let u = 0; u < v; u++) if (live[u]![v] === 1) preds.push(u);
        if (preds.length === 0) continue;
        const inChannels = cell.merge === 'add' ? outChannels[preds[0]!]! : preds.reduce((s, u) => s + outChannels[u]!, 0);
        if (v === n + 1) {
          out[v] = merge(`${p}_out`, preds.map((u) => out[u]!));
          outChannels[v] = inChannels;
          break;
        }
        const x = merge(`${p}_n${v}_merge`, preds.map((u) => out[u]!));
        const name = `${p}_n${v}`;
        const op = cell.nodes[v - 1]!;
        switch (op) {
          case 'conv1x1':
          case 'conv3x3':
          case 'conv5x5':
            out[v] = convBnAct(name, x, filters, Number(op[4]), 1);
            outChannels[v] = filters;
            break;
          case 'sepconv3x3':
          case 'sepconv5x5': {
            const size = Number(op[7]);
            nodes.push({ name: `${name}_dw`, op: 'depthwiseConv2d', inputs: [x], kernelSize: [size, size], strides: [1, 1], padding: 'same', useBias: false });
            nodes.push({ name: `${name}_dw_bn`, op: 'batchNorm', inputs: [`${name}_dw`], epsilon: 1e-3, momentum: 0.9 });
            nodes.push({ name: `${name}_dw_act`, op: 'activation', inputs: [`${name}_dw_bn`], activation: act });
            out[v] = convBnAct(name, `${name}_dw_act`, filters, 1, 1);
            outChannels[v] = filters;
            break;
          }
          case 'maxpool3x3':
          case 'avgpool3x3':
            nodes.push({ name, op: op === 'maxpool3x3' ? 'maxPool' : 'avgPool', inputs: [x], poolSize: [3, 3], strides: [1, 1], padding: 'same' });
            out[v] = name;
            outChannels[v] = inChannels;
            break;
        }
      }
      current = out[n + 1]!;
      channels = outChannels[n + 1]!;
    }
  }
  nodes.push({ name: 'gap', op: 'globalAvgPool', inputs: [current] });
  nodes.push({ name: 'logits', op: 'dense', inputs: ['gap'], units: cell.classes, useBias: true });
  return { format: 'mitosis-network', version: 1, ...(options.name === undefined ? {} : { name: options.name }), nodes, output: 'logits' };
}
