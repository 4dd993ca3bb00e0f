import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NasError, type NetworkSpec } from '@mitosis/core';
import { networkSpecSchema } from './network-spec-schema.js';
import { checkSpecSemantics, loadNetworkSpec, parseNetworkSpec, topoSort } from './parse-network-spec.js';
import { tinyMlpSpec, tinyMobileNetSpec } from '../testing/example-networks.js';

type Details = { file: string; node: string | null; pointer: string; problems?: { pointer: string; message: string }[] };

function specErrorOf(fn: () => unknown): Details & { message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(NasError.is(error, 'E_SPEC_INVALID'), `expected E_SPEC_INVALID, got ${String(error)}`);
    return { ...(error.details as unknown as Details), message: error.message };
  }
  assert.fail('did not throw');
}

function mutate(edit: (nodes: Record<string, unknown>[], spec: Record<string, unknown>) => void): unknown {
  const spec = structuredClone(tinyMlpSpec()) as unknown as Record<string, unknown>;
  edit(spec['nodes'] as Record<string, unknown>[], spec);
  return spec;
}

describe('parseNetworkSpec', () => {
  it('accepts the example networks and returns a copy', () => {
    const json = tinyMobileNetSpec();
    const spec = parseNetworkSpec(json, 'mobilenet.json');
    assert.deepEqual(spec, json);
    assert.notEqual(spec, json);
  });

  it('reports every schema problem at once, each with its JSON pointer and node name', () => {
    const bad = mutate((nodes, spec) => {
      spec['version'] = 2;
      nodes[1]!['units'] = 0;
      delete nodes[3]!['useBias'];
      nodes[2]!['activation'] = 'gelu';
      nodes[1]!['kernel'] = 3;
    });
    const d = specErrorOf(() => parseNetworkSpec(bad, 'bad.json'));
    assert.equal(d.file, 'bad.json');
    const pointers = d.problems!.map((p) => p.pointer).sort();
    assert.deepEqual(pointers, ['/nodes/1/kernel', '/nodes/1/units', '/nodes/2/activation', '/nodes/3/useBias', '/version']);
    const units = d.problems!.find((p) => p.pointer === '/nodes/1/units')!;
    assert.match(units.message, />= 1.*node "h1"/);
  });

  it('names an unknown op with the node and its pointer', () => {
    const d = specErrorOf(() => parseNetworkSpec(mutate((nodes) => void (nodes[2]!['op'] = 'gelu')), 's.json'));
    assert.ok(d.problems!.some((p) => p.pointer === '/nodes/2/op' && p.message.includes('"a1"')));
    const spec = mutate((nodes) => void (nodes[2]!['op'] = 'gelu')) as NetworkSpec;
    const s = specErrorOf(() => checkSpecSemantics(spec, 's.json'));
    assert.equal(s.node, 'a1');
    assert.equal(s.pointer, '/nodes/2/op');
  });

  const semantic: { what: string; edit: Parameters<typeof mutate>[0]; node: string | null; pointer: string; text: RegExp }[] = [
    { what: 'a duplicate name', edit: (n) => void (n[2]!['name'] = 'h1'), node: 'h1', pointer: '/nodes/2/name', text: /duplicate/ },
    { what: 'a dangling input', edit: (n) => void (n[3]!['inputs'] = ['nope']), node: 'out', pointer: '/nodes/3/inputs/0', text: /unknown node "nope"/ },
    { what: 'an unknown output', edit: (_n, s) => void (s['output'] = 'zzz'), node: 'zzz', pointer: '/output', text: /output "zzz"/ },
    { what: 'no input node', edit: (n) => void n.splice(0, 1, { name: 'x', op: 'dropout', inputs: ['out'], rate: 0.1 }), node: null, pointer: '/nodes', text: /found 0/ },
    { what: 'two input nodes', edit: (n) => void n.push({ name: 'y', op: 'input', shape: [2] }), node: 'y', pointer: '/nodes', text: /found 2 \(x, y\)/ },
    { what: 'an add with one input', edit: (n) => void n.push({ name: 's', op: 'add', inputs: ['h1'] }), node: 's', pointer: '/nodes/4/inputs', text: /at least 2/ },
    { what: 'a dense with two inputs', edit: (n) => void (n[3]!['inputs'] = ['a1', 'h1']), node: 'out', pointer: '/nodes/3/inputs', text: /exactly 1/ },
  ];
  for (const c of semantic) {
    it(`rejects ${c.what} with the node and pointer`, () => {
      const d = specErrorOf(() => parseNetworkSpec(mutate(c.edit), 'net.json'));
      assert.equal(d.node, c.node);
      assert.equal(d.pointer, c.pointer);
      assert.equal(d.file, 'net.json');
      assert.match(d.message, c.text);
    });
  }

  it('names the nodes on a cycle', () => {
    const bad = mutate((n) => {
      n[1]!['inputs'] = ['a1'];
      n.push({ name: 'side', op: 'dense', inputs: ['x'], units: 2, useBias: false });
    });
    const d = specErrorOf(() => parseNetworkSpec(bad, 'c.json')) as Details & { cycle?: string[] };
    assert.deepEqual([...(d as { cycle?: string[] }).cycle!].sort(), ['a1', 'h1']);
  });

  it('loads a file and reports unreadable files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ir-'));
    const file = join(dir, 'net.json');
    writeFileSync(file, JSON.stringify(tinyMlpSpec()));
    assert.equal(loadNetworkSpec(file).output, 'out');
    assert.throws(() => loadNetworkSpec(join(dir, 'none.json')), (e: unknown) => NasError.is(e, 'E_CONFIG_READ'));
  });
});

describe('topoSort', () => {
  it('puts every node after its inputs and keeps the spec order among ready nodes', () => {
    const spec = tinyMobileNetSpec();
    const shuffled: NetworkSpec = { ...spec, nodes: [...spec.nodes].reverse() };
    const order = topoSort(shuffled).map((n) => n.name);
    const at = new Map(order.map((n, i) => [n, i]));
    for (const node of spec.nodes) for (const i of node.inputs ?? []) assert.ok(at.get(i)! < at.get(node.name)!);
    assert.deepEqual(topoSort(spec).map((n) => n.name), spec.nodes.map((n) => n.name));
    // pool is listed after dw2 in the reversed spec's ready set order: reversed spec lists pool first.
    assert.ok(at.get('pool')! < at.get('dw2')!);
  });
});

describe('network-spec.schema.json', () => {
  it('equals the TypeScript schema object (regenerate with scripts/write-schema.mjs)', () => {
    const file = new URL('../../schemas/network-spec.schema.json', import.meta.url);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(networkSpecSchema)));
  });
});
