import {
  cloneJson,
  ConfigValidationError,
  NasError,
  NODE_OPS,
  readJsonFile,
  validateAgainst,
  type NetworkNode,
  type NetworkSpec,
} from '@mitosis/core';
import { networkSpecSchema } from './network-spec-schema.js';

/** The inputs of a node (the input node has none). */
export function nodeInputs(node: NetworkNode): readonly string[] {
  return node.inputs ?? [];
}

function specError(source: string, message: string, node: string | null, pointer: string, extra = {}): NasError {
  return new NasError('E_SPEC_INVALID', `Invalid network spec ${source}: ${message}`, {
    file: source,
    node,
    pointer,
    ...extra,
  });
}

/**
 * Checks graph semantics of a schema-valid spec: unique names, known ops, known inputs, input arity
 * (add/concat ≥ 2, input 0, others 1), exactly one input node, a known output, no cycles.
 * Throws `E_SPEC_INVALID` with `details.{file, node, pointer}`.
 */
export function checkSpecSemantics(spec: NetworkSpec, source: string): void {
  const index = new Map<string, number>();
  spec.nodes.forEach((node, i) => {
    const first = index.get(node.name);
    if (first !== undefined) {
      throw specError(
        source,
        `duplicate node name "${node.name}" (nodes ${first} and ${i}); rename one`,
        node.name,
        `/nodes/${i}/name`,
      );
    }
    index.set(node.name, i);
  });
  spec.nodes.forEach((node, i) => {
    if (!(NODE_OPS as readonly string[]).includes(node.op)) {
      throw specError(
        source,
        `node "${node.name}" has unknown op "${String(node.op)}" (known: ${NODE_OPS.join(', ')})`,
        node.name,
        `/nodes/${i}/op`,
      );
    }
    const ins = nodeInputs(node);
    ins.forEach((input, j) => {
      if (!index.has(input)) {
        throw specError(
          source,
          `node "${node.name}" reads unknown node "${input}"`,
          node.name,
          `/nodes/${i}/inputs/${j}`,
        );
      }
    });
    const arityOk =
      node.op === 'input'
        ? ins.length === 0
        : node.op === 'add' || node.op === 'concat'
          ? ins.length >= 2
          : ins.length === 1;
    if (!arityOk) {
      const wanted = node.op === 'input' ? 'no' : node.op === 'add' || node.op === 'concat' ? 'at least 2' : 'exactly 1';
      throw specError(
        source,
        `node "${node.name}" (${node.op}) has ${ins.length} inputs, needs ${wanted}`,
        node.name,
        `/nodes/${i}/inputs`,
      );
    }
  });
  const inputNodes = spec.nodes.filter((n) => n.op === 'input').map((n) => n.name);
  if (inputNodes.length !== 1) {
    throw specError(
      source,
      `needs exactly one input node, found ${inputNodes.length}${inputNodes.length > 0 ? ` (${inputNodes.join(', ')})` : ''}`,
      inputNodes[1] ?? null,
      '/nodes',
      { inputNodes },
    );
  }
  if (!index.has(spec.output)) {
    throw specError(source, `output "${spec.output}" is not a node`, spec.output, '/output');
  }
  topoSortOrThrow(spec, source);
}

function topoSortOrThrow(spec: NetworkSpec, source: string): NetworkNode[] {
  const n = spec.nodes.length;
  const index = new Map(spec.nodes.map((node, i) => [node.name, i]));
  const pending = spec.nodes.map((node) => new Set(nodeInputs(node)).size);
  const readers: number[][] = spec.nodes.map(() => []);
  spec.nodes.forEach((node, i) => {
    for (const input of new Set(nodeInputs(node))) {
      const k = index.get(input);
      if (k !== undefined) readers[k]!.push(i);
    }
  });
  // Kahn's algorithm taking the lowest spec index first, so the order is stable.
  const ready: number[] = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) ready.push(i);
  const order: NetworkNode[] = [];
  const done = new Array<boolean>(n).fill(false);
  while (ready.length > 0) {
    let best = 0;
    for (let r = 1; r < ready.length; r++) if (ready[r]! < ready[best]!) best = r;
    const i = ready.splice(best, 1)[0]!;
    done[i] = true;
    order.push(spec.nodes[i]!);
    for (const k of readers[i]!) {
      pending[k]! -= 1;
      if (pending[k] === 0) ready.push(k);
    }
  }
  if (order.length < n) {
    // Every node left has an input that is also left: walk inputs backwards until one repeats.
    let at = done.indexOf(false);
    const seen = new Map<number, number>();
    const path: number[] = [];
    while (!seen.has(at)) {
      seen.set(at, path.length);
      path.push(at);
      const next = nodeInputs(spec.nodes[at]!)
        .map((name) => index.get(name)!)
        .find((k) => !done[k]);
      at = next!;
    }
    const cycle = path.slice(seen.get(at)).reverse().map((k) => spec.nodes[k]!.name);
    throw specError(
      source,
      `cycle through nodes ${cycle.join(' → ')} → ${cycle[0]}`,
      cycle[0] ?? null,
      `/nodes/${index.get(cycle[0]!)}/inputs`,
      { cycle },
    );
  }
  return order;
}

/**
 * Nodes in topological order (every node after its inputs); among ready nodes the one listed first in
 * `spec.nodes` comes first, so the order is stable. Throws `E_SPEC_INVALID` on a cycle.
 */
export function topoSort(spec: NetworkSpec): NetworkNode[] {
  return topoSortOrThrow(spec, spec.name ?? '<network>');
}

/** ` (node "x")` when `pointer` points into `/nodes/i` and that node has a string name. */
function nodeSuffix(doc: unknown, pointer: string): string {
  const m = /^\/nodes\/(\d+)(\/|$)/.exec(pointer);
  if (m === null || typeof doc !== 'object' || doc === null) return '';
  const nodes = (doc as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) return '';
  const node: unknown = nodes[Number(m[1])];
  const name = typeof node === 'object' && node !== null ? (node as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? ` (node "${name}")` : '';
}

/**
 * Validates `json` as a network spec: first the JSON Schema (every problem at once, each with its JSON
 * pointer: `E_SPEC_INVALID` with `details.problems`), then graph semantics ({@link checkSpecSemantics}).
 * Returns a deep copy; `json` is not modified.
 * @param source the file or other origin, named in errors.
 */
export function parseNetworkSpec(json: unknown, source: string): NetworkSpec {
  const copy: unknown = cloneJson(json, source, 'E_SPEC_INVALID');
  let spec: NetworkSpec;
  try {
    spec = validateAgainst<NetworkSpec>(networkSpecSchema, copy, {
      source,
      what: 'network spec',
      code: 'E_SPEC_INVALID',
    });
  } catch (error) {
    // Drop ajv's `must match "then" schema` summaries: the problems inside the branch are listed already.
    if (error instanceof ConfigValidationError) {
      const problems = error.problems
        .filter((p) => !p.message.startsWith('must match "'))
        .map((p) => ({ pointer: p.pointer, message: p.message + nodeSuffix(copy, p.pointer) }));
      throw new ConfigValidationError(source, problems.length > 0 ? problems : error.problems, 'network spec', 'E_SPEC_INVALID');
    }
    throw error;
  }
  checkSpecSemantics(spec, source);
  return spec;
}

/** Reads a JSON file (`E_CONFIG_READ` when unreadable) and {@link parseNetworkSpec}s it. */
export function loadNetworkSpec(file: string): NetworkSpec {
  return parseNetworkSpec(readJsonFile(file), file);
}
