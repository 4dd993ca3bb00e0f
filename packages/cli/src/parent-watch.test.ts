import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitWithParent } from './parent-watch.js';

describe('exitWithParent', () => {
  it('does nothing without MITOSIS_PARENT_PID', () => {
    assert.equal(exitWithParent({}), undefined);
    assert.equal(exitWithParent({ MITOSIS_PARENT_PID: 'x' }), undefined);
  });

  it('keeps running while the parent is this process\'s parent, exits 137 once it is not', async () => {
    const codes: number[] = [];
    const watching = exitWithParent({ MITOSIS_PARENT_PID: String(process.ppid) }, 10, (c) => codes.push(c));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(codes.length, 0);
    clearInterval(watching);
    // A pid that is not our parent (and most likely not alive): the watch fires.
    const gone = exitWithParent({ MITOSIS_PARENT_PID: String(2 ** 22 - 3) }, 10, (c) => codes.push(c));
    await new Promise((r) => setTimeout(r, 60));
    clearInterval(gone);
    assert.deepEqual(codes, [137]);
  });
});
