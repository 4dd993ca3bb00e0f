import type { NetworkNode, NetworkSpec } from '@mitosis/core';
import { inferShapes, readersOf, topoSort } from '@mitosis/ir';
import type { OpDescriptor } from './op-key.js';

/**
 * One priced row of a network: a layer-level op (a conv with the batch norm and activation that follow it
 * folded in) or, after {@link groupBlocks}, a published block (`mbconv`, `classifier`).
 * `macs` and `params` are exact counts for this row; `parts` lists the layer rows a composite replaces.
 */
export interface PricedBlock {
  /** The first node of the row (its name in cost breakdowns). */
  readonly node: string;
  /** Every node the row covers, `node` first. */
  readonly fused: readonly string[];
  readonly op: OpDescriptor;
  /** Multiply-accumulates: conv/depthwise/dense only. */
  readonly macs: number;
  /** Trainable parameters: weights, biases, batch-norm γ and β (moving statistics excluded). */
  readonly params: number;
  /** For a composite: the layer rows it stands for, priced individually when the composite is not known. */
  readonly parts?: readonly PricedBlock[];
}

/** Nodes that cost nothing at inference; they join the row of their input. */
const FREE_OPS = new Set<NetworkNode['op']>(['flatten', 'dropout']);

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Splits a network spec into layer-level rows, in topological order. A conv2d, depthwiseConv2d, dense, pool
 * or add absorbs a following batchNorm then activation when each is the only reader of its input (TF.js and
 * deployed runtimes fuse these); flatten and dropout join their input's row; the input node has no row.
 * Shapes come from `@mitosis/ir`'s `inferShapes`, so an invalid spec throws its `E_SHAPE_MISMATCH`.
 */
export function blocksFromSpec(spec: NetworkSpec): PricedBlock[] {
  const shapes = inferShapes(spec);
  const readers = readersOf(spec);
  const rowOf = new Map<string, { node: string; fused: string[]; op: OpDescriptor; macs: number; params: number }>();
  const rows: { node: string; fused: string[]; op: OpDescriptor; macs: number; params: number }[] = [];
  const shapeOf = (name: string): number[] => shapes.get(name)!;
  const absorb = (row: { fused: string[]; params: number }, from: string, allowBn: boolean): void => {
    let at = from;
    let bnAllowed = allowBn;
    for (;;) {
      if (at === spec.output) return;
      const next = readers.get(at) ?? [];
      if (next.length !== 1) return;
      const r = next[0]!;
      if (r.op === 'batchNorm' && bnAllowed) {
        row.params += 2 * (shapeOf(r.name).at(-1) ?? 0);
        bnAllowed = false;
      } else if (r.op !== 'activation') {
        return;
      }
      row.fused.push(r.name);
      rowOf.set(r.name, row as (typeof rows)[number]);
      if (r.op === 'activation') return;
      at = r.name;
    }
  };
  for (const node of topoSort(spec)) {
    if (node.op === 'input' || rowOf.has(node.name)) continue;
    const inputs = node.inputs ?? [];
    if (FREE_OPS.has(node.op)) {
      const row = rowOf.get(inputs[0] ?? '');
      if (row) {
        row.fused.push(node.name);
        rowOf.set(node.name, row);
        continue;
      }
    }
    const inShape = shapeOf(inputs[0] ?? node.name);
    const out = shapeOf(node.name);
    let op: OpDescriptor;
    let macs = 0;
    let params = 0;
    let fuse = false;
    let allowBn = true;
    switch (node.op) {
      case 'conv2d': {
        const [kh, kw] = node.kernelSize;
        const cin = inShape[2]!;
        macs = kh * kw * cin * node.filters * out[0]! * out[1]!;
        params = kh * kw * cin * node.filters + (node.useBias ? node.filters : 0);
        op = { kind: 'conv2d', input: inShape, output: out, attrs: { kernel: Math.max(kh, kw), stride: node.strides[0], groups: 1 } };
        fuse = true;
        break;
      }
      case 'depthwiseConv2d': {
        const [kh, kw] = node.kernelSize;
        const c = inShape[2]!;
        macs = kh * kw * c * out[0]! * out[1]!;
        params = kh * kw * c + (node.useBias ? c : 0);
        op = { kind: 'dwconv2d', input: inShape, output: out, attrs: { kernel: Math.max(kh, kw), stride: node.strides[0] } };
        fuse = true;
        break;
      }
      case 'dense': {
        const cin = size(inShape);
        macs = cin * node.units;
        params = cin * node.units + (node.useBias ? node.units : 0);
        op = { kind: 'dense', input: [cin], output: [node.units], attrs: {} };
        fuse = true;
        break;
      }
      case 'maxPool':
      case 'avgPool':
        op = {
          kind: node.op === 'maxPool' ? 'maxpool' : 'avgpool',
          input: inShape,
          output: out,
          attrs: { kernel: Math.max(...node.poolSize), stride: node.strides[0] },
        };
        fuse = true;
        allowBn = false;
        break;
      case 'globalAvgPool':
        op = { kind: 'gap', input: inShape, output: [inShape[2]!], attrs: {} };
        break;
      case 'add':
        op = { kind: 'add', input: inShape, output: [], attrs: { inputs: inputs.length } };
        fuse = true;
        allowBn = false;
        break;
      case 'concat':
        op = { kind: 'concat', input: inShape, output: out, attrs: { inputs: inputs.length } };
        break;
      case 'batchNorm':
        op = { kind: 'batchnorm', input: out, output: [], attrs: {} };
        params = 2 * (out.at(-1) ?? 0);
        break;
      case 'activation':
        op = { kind: 'activation', input: out, output: [], attrs: { act: node.activation.toLowerCase() } };
        break;
      default:
        // flatten/dropout whose input has no row (read straight from the input node): a free identity.
        op = { kind: 'identity', input: out.length === 3 ? out : [1, 1, size(out)], output: [], attrs: {} };
        break;
    }
    const row = { node: node.name, fused: [node.name], op, macs, params };
    rows.push(row);
    rowOf.set(node.name, row);
    if (fuse) absorb(row, node.name, allowBn);
  }
  return rows;
}

/**
 * Groups layer rows into the block ops published tables use: an inverted-residual block
 * (`[1×1 conv+BN+act] → k×k depthwise+BN+act → 1×1 conv+BN [→ add with the block input]`) becomes `mbconv`,
 * and global pooling followed by a dense layer becomes `classifier`. Rows that match no pattern are kept.
 * Needs the spec to know which row reads which.
 */
export function groupBlocks(spec: NetworkSpec, rows: readonly PricedBlock[]): PricedBlock[] {
  const rowIndexOf = new Map<string, number>();
  rows.forEach((row, i) => row.fused.forEach((n) => rowIndexOf.set(n, i)));
  const readersByRow = new Map<number, Set<number>>();
  const inputsByRow = new Map<number, string[]>();
  for (const node of spec.nodes) {
    const to = rowIndexOf.get(node.name);
    if (to === undefined) continue;
    for (const input of node.inputs ?? []) {
      const from = rowIndexOf.get(input);
      if (from === undefined || from === to) {
        if (from === undefined) inputsByRow.set(to, [...(inputsByRow.get(to) ?? []), input]);
        continue;
      }
      if (!readersByRow.has(from)) readersByRow.set(from, new Set());
      readersByRow.get(from)!.add(to);
    }
  }
  const outputRow = rowIndexOf.get(spec.output);
  const readerOf = (i: number): number | undefined => {
    const r = readersByRow.get(i);
    return i === outputRow || r === undefined || r.size !== 1 ? undefined : [...r][0];
  };
  const used = new Set<number>();
  const replaced = new Map<number, PricedBlock>();
  const hasAct = (row: PricedBlock): boolean => row.fused.length > 1;
  const isPointwise = (row: PricedBlock | undefined): row is PricedBlock =>
    row?.op.kind === 'conv2d' && row.op.attrs['kernel'] === 1 && row.op.attrs['stride'] === 1 && row.op.attrs['groups'] === 1;
  rows.forEach((row, d) => {
    if (row.op.kind !== 'dwconv2d' || used.has(d)) return;
    // The expansion conv, when there is one: a pointwise conv whose only reader is this depthwise.
    const producer = rows.findIndex((r, i) => !used.has(i) && readersByRow.get(i)?.size === 1 && readersByRow.get(i)?.has(d));
    const expand = producer >= 0 && isPointwise(rows[producer]) && hasAct(rows[producer]!) ? producer : undefined;
    const p = readerOf(d);
    if (p === undefined || !isPointwise(rows[p]) || used.has(p)) return;
    const project = rows[p]!;
    if (project.fused.some((n) => spec.nodes.find((x) => x.name === n)?.op === 'activation')) return;
    const a = readerOf(p);
    const addRow = a !== undefined && rows[a]!.op.kind === 'add' && rows[a]!.op.attrs['inputs'] === 2 ? a : undefined;
    const first = expand !== undefined ? rows[expand]! : row;
    const blockIn = first.op.input;
    const out = project.op.output;
    let skip = 0;
    if (addRow !== undefined) {
      // The add's other operand must be the block input (the row that produced `first`'s input).
      const addNode = spec.nodes.find((n) => n.name === rows[addRow]!.node);
      const firstNode = spec.nodes.find((n) => n.name === first.node);
      const blockInputName = firstNode?.inputs?.[0];
      const other = addNode?.inputs?.find((n) => rowIndexOf.get(n) !== p);
      if (other !== undefined && blockInputName !== undefined && (other === blockInputName || rowIndexOf.get(other) === rowIndexOf.get(blockInputName))) {
        skip = 1;
      }
    }
    const members = [expand, d, p, skip === 1 ? addRow : undefined].filter((i): i is number => i !== undefined);
    const parts = members.map((i) => rows[i]!);
    const composite: PricedBlock = {
      node: first.node,
      fused: parts.flatMap((r) => r.fused),
      op: {
        kind: 'mbconv',
        input: blockIn,
        output: out,
        attrs: {
          mid: row.op.input[2]!,
          kernel: row.op.attrs['kernel']!,
          stride: row.op.attrs['stride']!,
          groups: 1,
          skip,
          se: 0,
          hs: 0,
        },
      },
      macs: parts.reduce((s, r) => s + r.macs, 0),
      params: parts.reduce((s, r) => s + r.params, 0),
      parts,
    };
    members.forEach((i) => used.add(i));
    replaced.set(members[0]!, composite);
  });
  rows.forEach((row, g) => {
    if (row.op.kind !== 'gap' || used.has(g)) return;
    const dIdx = readerOf(g);
    if (dIdx === undefined || rows[dIdx]!.op.kind !== 'dense' || used.has(dIdx)) return;
    const dense = rows[dIdx]!;
    const parts = [row, dense];
    used.add(g);
    used.add(dIdx);
    replaced.set(g, {
      node: row.node,
      fused: parts.flatMap((r) => r.fused),
      op: { kind: 'classifier', input: row.op.input, output: dense.op.output, attrs: {} },
      macs: dense.macs,
      params: dense.params,
      parts,
    });
  });
  const result: PricedBlock[] = [];
  rows.forEach((row, i) => {
    const composite = replaced.get(i);
    if (composite) result.push(composite);
    else if (!used.has(i)) result.push(row);
  });
  return result;
}
