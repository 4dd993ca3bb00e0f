import type { ActivationKind, NetworkNode, NetworkSpec } from '@mitosis/core';
import { nodeInputs } from './parse-network-spec.js';

/** Nodes by name. */
export function nodesByName(spec: NetworkSpec): Map<string, NetworkNode> {
  return new Map(spec.nodes.map((n) => [n.name, n]));
}

/** For every node, the nodes that read it (each reader once, in spec order). */
export function readersOf(spec: NetworkSpec): Map<string, NetworkNode[]> {
  const readers = new Map<string, NetworkNode[]>(spec.nodes.map((n) => [n.name, []]));
  for (const node of spec.nodes) {
    for (const input of new Set(nodeInputs(node))) readers.get(input)?.push(node);
  }
  return readers;
}

/**
 * The activation right after `name`, passing through batchNorm only, provided every node on the way has
 * exactly one reader and is not the network output. `null` when there is none.
 */
export function followingActivation(
  spec: NetworkSpec,
  name: string,
  readers: Map<string, NetworkNode[]> = readersOf(spec),
): { node: string; activation: ActivationKind; path: string[] } | null {
  let at = name;
  const path: string[] = [];
  for (;;) {
    if (at === spec.output) return null;
    const next = readers.get(at) ?? [];
    if (next.length !== 1) return null;
    const r = next[0]!;
    path.push(r.name);
    if (r.op === 'activation') return { node: r.name, activation: r.activation, path };
    if (r.op !== 'batchNorm') return null;
    at = r.name;
  }
}
