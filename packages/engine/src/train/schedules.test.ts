import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { learningRateAt } from './schedules.js';

const near = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe('learningRateAt', () => {
  it('keeps a constant rate', () => {
    for (const step of [0, 5, 99]) near(learningRateAt({ kind: 'constant' }, 0.1, step, 10, 10), 0.1);
  });

  it('multiplies by gamma at each milestone epoch', () => {
    const s = { kind: 'step', milestones: [2, 4], gamma: 0.1 } as const;
    near(learningRateAt(s, 1, 19, 10, 6), 1); // epoch 1.9
    near(learningRateAt(s, 1, 20, 10, 6), 0.1); // epoch 2
    near(learningRateAt(s, 1, 45, 10, 6), 0.01);
  });

  it('follows a half cosine from the base to minLr', () => {
    const s = { kind: 'cosine', minLr: 0.01 } as const;
    near(learningRateAt(s, 0.1, 0, 10, 4), 0.1);
    near(learningRateAt(s, 0.1, 20, 10, 4), 0.055);
    near(learningRateAt(s, 0.1, 40, 10, 4), 0.01);
  });

  it('warms up linearly before the schedule starts', () => {
    const s = { kind: 'cosine', warmupEpochs: 1 } as const;
    near(learningRateAt(s, 0.2, 0, 4, 3), 0.05);
    near(learningRateAt(s, 0.2, 3, 4, 3), 0.2);
    near(learningRateAt(s, 0.2, 4, 4, 3), 0.2); // cosine starts at the base rate after warm-up
    near(learningRateAt(s, 0.2, 8, 4, 3), 0.1);
  });
});
