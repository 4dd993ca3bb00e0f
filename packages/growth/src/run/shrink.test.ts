import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { syntheticImages } from '@mitosis/data';
import { MacsCostModel } from '@mitosis/hardware';
import { compileCell, fullMask, removableEdges, type CellArchitecture } from '../space/cell-space.js';
import { cellCostFloor, checkChoice, checkProposal, cheapestPathCost, nodeCosts, proxySet } from './shrink.js';
import { checkBudgetFeasible } from './stages.js';

const cell: CellArchitecture = {
  input: [8, 8, 1],
  nodes: ['conv3x3', 'sepconv3x3', 'conv1x1'],
  merge: 'add',
  activation: 'relu',
  stem: { filters: 4, kernelSize: 3, stride: 1 },
  stages: [{ cells: 1, filters: 4, stride: 1 }],
  classes: 3,
  seedScale: 1,
};

const invalid = (fn: () => void, pattern: RegExp): void => assert.throws(fn, (e: unknown) => NasError.is(e, 'E_PLAN_INVALID') && pattern.test(e.message));

describe('the shrink policy', () => {
  const removable = removableEdges(fullMask(3));

  it('accepts distinct removable edges and refuses none, unknown or repeated ones', () => {
    checkProposal('m', removable.slice(0, 3), removable);
    invalid(() => checkProposal('m', [], removable), /no edge/);
    invalid(() => checkProposal('m', [{ from: 0, to: 4 }], removable), /not a removable edge/);
    invalid(() => checkProposal('m', [removable[0]!, removable[0]!], removable), /twice/);
  });

  it('wants one finite score per candidate and a chosen index in range', () => {
    checkChoice('m', { scores: [0.1, 0.2], chosen: 1 }, 2);
    invalid(() => checkChoice('m', { scores: [0.1], chosen: 0 }, 2), /one finite score/);
    invalid(() => checkChoice('m', { scores: [0.1, Number.NaN], chosen: 0 }, 2), /one finite score/);
    invalid(() => checkChoice('m', { scores: [0.1, 0.2], chosen: 2 }, 2), /chose candidate 2/);
  });
});

describe('shrink set-up', () => {
  it('prices the cheapest one-node cell as the budget floor', () => {
    const macs = new MacsCostModel();
    const floor = cellCostFloor(cell, macs)!;
    // Stem 2304, logits 12; the cheapest node is the 1×1 conv (64·4·4 = 1024).
    assert.equal(floor, 2304 + 1024 + 12);
    const start = macs.estimate(compileCell(cell, fullMask(3))).total!;
    assert.throws(() => checkBudgetFeasible('shrinker', { cost: start, floor }, start, 'macs', 'autoshrink'), (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE'));
    assert.throws(() => checkBudgetFeasible('shrinker', { cost: start, floor }, floor - 1, 'macs', 'autoshrink'), (e: unknown) => NasError.is(e, 'E_BUDGET_INFEASIBLE'));
    checkBudgetFeasible('shrinker', { cost: start, floor }, floor, 'macs', 'autoshrink');
  });

  it('prices every path cell exactly from per-node MACs (the budget guard), and finds the cheapest path of a mask', () => {
    const macs = new MacsCostModel();
    const costs = nodeCosts(cell, macs)!;
    for (let subset = 1; subset < 8; subset++) {
      const nodes = [1, 2, 3].filter((v) => (subset >> (v - 1)) & 1);
      const mask = fullMask(3).map((row) => row.map(() => 0));
      [0, ...nodes, 4].forEach((v, i, all) => i > 0 && (mask[all[i - 1]!]![v] = 1));
      assert.equal(cheapestPathCost(mask, costs), macs.estimate(compileCell(cell, mask)).total, nodes.join(','));
    }
    // The full cell's cheapest path is its cheapest single node: the floor.
    assert.equal(cheapestPathCost(fullMask(3), costs), cellCostFloor(cell, macs));
  });

  it('draws the proxy set from a stream of its own: same seed, same samples', () => {
    const train = syntheticImages({ height: 4, width: 4, channels: 1, classes: 2, count: 50, seed: 1 });
    const a = proxySet(train, 20, 7);
    assert.equal(a.count, 20);
    assert.deepEqual(a.y, proxySet(train, 20, 7).y);
    assert.notDeepEqual(a.x, proxySet(train, 20, 8).x);
    assert.equal(proxySet(train, null, 7), train);
    assert.equal(proxySet(train, 500, 7), train);
  });
});
