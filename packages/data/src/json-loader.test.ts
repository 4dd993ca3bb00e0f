import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NasError, type ConfigProblem } from '@mitosis/core';
import { datasetFromJson, loadJsonDataset } from './json-loader.js';
import { loadDataset } from './load-dataset.js';
import { tempDir } from './test-files.js';

/** The problems of the E_DATA_INVALID error that `fn` throws, as "pointer message" strings. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(NasError.is(e, 'E_DATA_INVALID'), String(e));
    assert.equal(e.details['file'], 'doc.json');
    return (e.details['problems'] as ConfigProblem[]).map((p) => `${p.pointer} ${p.message}`);
  }
  assert.fail('expected an error');
}

describe('JSON data sets', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  it('reads rows and class indices, inferring the task and class count', () => {
    const { train, test } = datasetFromJson({ x: [[0, 1], [2, 3], [4, 5]], y: [0, 2, 1] }, 'doc.json');
    assert.equal(test, undefined);
    assert.equal(train.task, 'classification');
    assert.equal(train.targetSize, 3);
    assert.deepEqual(train.inputShape, [2]);
    assert.deepEqual(Array.from(train.x), [0, 1, 2, 3, 4, 5]);
  });

  it('reads scalar inputs, regression rows, an inputShape and a test split', () => {
    const { train, test } = datasetFromJson(
      { x: [[1, 2, 3, 4]], y: [[0.5, -1]], inputShape: [2, 2, 1], test: { x: [[5, 6, 7, 8]], y: [[1, 2]] } },
      'doc.json',
    );
    assert.equal(train.task, 'regression');
    assert.equal(train.targetSize, 2);
    assert.deepEqual(train.inputShape, [2, 2, 1]);
    assert.deepEqual(Array.from(test?.y ?? []), [1, 2]);
    const scalar = datasetFromJson({ x: [0.5, 1.5], y: [0.25, -2] }, 'doc.json').train;
    assert.deepEqual(scalar.inputShape, [1]);
    assert.equal(scalar.task, 'regression');
  });

  it('reports schema problems with JSON pointers', () => {
    assert.deepEqual(problems(() => datasetFromJson({ x: [[1, 'a']], z: 1 }, 'doc.json')).sort(), [
      '/x/0/1 must be number,array',
      '/y is required',
      '/z is not allowed here',
    ]);
  });

  it('reports uneven rows, label and length problems with JSON pointers', () => {
    assert.deepEqual(
      problems(() => datasetFromJson({ x: [[1, 2], [3, 4], [5]], y: [0, 1], classes: 2 }, 'doc.json')),
      ['/x/2 must have 2 values like /x/0, has 1', '/y must have 3 entries like /x, has 2'],
    );
    assert.deepEqual(
      problems(() => datasetFromJson({ x: [1, 2, 3], y: [0, 1, 5], task: 'classification', classes: 3 }, 'doc.json')),
      ['/y/2 must be an integer class index in [0, 3)'],
    );
    assert.deepEqual(problems(() => datasetFromJson({ x: [[1, 2, 3]], y: [0], inputShape: [2, 2] }, 'doc.json')), [
      '/inputShape [2, 2] holds 4 values, samples of /x have 3',
    ]);
    assert.deepEqual(
      problems(() => datasetFromJson({ x: [[1]], y: [0], classes: 2, test: { x: [[1, 2]], y: [3] } }, 'doc.json')),
      ['/test/y/0 must be an integer class index in [0, 2)', '/test/x/0 must have the shape of /x/0 ([1], 1 values)'],
    );
  });

  it('reads nested samples shaped like the input ([n][h][w][c] and [n][features])', () => {
    // Two 2×3×2 images: value (i, h, w, c) = 100i + 10h + 2w + c.
    const image = (i: number) => [0, 1].map((h) => [0, 1, 2].map((w) => [0, 1].map((c) => 100 * i + 10 * h + 2 * w + c)));
    const { train, test } = datasetFromJson({ x: [image(0), image(1)], y: [1, 0], test: { x: [image(2)], y: [1] } }, 'doc.json');
    assert.deepEqual(train.inputShape, [2, 3, 2]);
    assert.equal(train.count, 2);
    assert.deepEqual(Array.from(train.x.subarray(12, 18)), [100, 101, 102, 103, 104, 105]);
    assert.deepEqual(Array.from(test?.x.subarray(0, 4) ?? []), [200, 201, 202, 203]);
    // inputShape may relabel the nested shape when it holds as many values.
    assert.deepEqual(datasetFromJson({ x: [image(0)], y: [0], inputShape: [6, 2] }, 'doc.json').train.inputShape, [6, 2]);
    const rows = datasetFromJson({ x: [[1, 2, 3], [4, 5, 6]], y: [0.5, 1.5] }, 'doc.json').train;
    assert.deepEqual([rows.inputShape, rows.task], [[3], 'regression']);
  });

  it('reports the first nested sample that differs from /x/0 with its JSON pointer', () => {
    const a = [[[1], [2]], [[3], [4]]];
    assert.deepEqual(problems(() => datasetFromJson({ x: [a, [[[1], [2]], [[3]]]], y: [0, 1] }, 'doc.json')), [
      '/x/1/1 must have 2 values like /x/0/1, has 1',
    ]);
    assert.deepEqual(problems(() => datasetFromJson({ x: [a, [[[1], 2], [[3], [4]]]], y: [0, 1] }, 'doc.json')), [
      '/x/1/0/1 must be an array like /x/0/0/1',
    ]);
    assert.deepEqual(problems(() => datasetFromJson({ x: [a, [[[1], [2]], [[3], [[4]]]]], y: [0, 1] }, 'doc.json')), [
      '/x/1/1/1/0 must be a number like /x/0/1/1/0',
    ]);
    assert.deepEqual(problems(() => datasetFromJson({ x: [[[[[[1]]]]]], y: [0] }, 'doc.json')), ['/x/0/0/0/0/0 must be number']);
  });

  it('reads one-hot label rows as classes and checks each row', () => {
    const { train, test } = datasetFromJson(
      { x: [[0], [1], [2]], y: [[0, 0, 1], [1, 0, 0], [0, 1, 0]], test: { x: [[3]], y: [[0, 1, 0]] }, classNames: ['a', 'b', 'c'] },
      'doc.json',
    );
    assert.deepEqual([train.task, train.targetSize], ['classification', 3]);
    assert.deepEqual(Array.from(train.y), [2, 0, 1]);
    assert.deepEqual(Array.from(test?.y ?? []), [1]);
    assert.deepEqual(
      problems(() => datasetFromJson({ x: [1, 2, 3, 4], y: [[0, 1], [1, 1], [0, 0], [1, 0]], classes: 3 }, 'doc.json')),
      ['/y/1 must be a one-hot row with exactly one 1, has 2', '/y/2 must be a one-hot row with exactly one 1, has 0', '/classes must be 2, the width of the one-hot rows of /y'],
    );
    // With an explicit classification task, rows must be one-hot; without one, other rows are regression targets.
    assert.deepEqual(problems(() => datasetFromJson({ x: [1, 2], y: [[0.2, 0.8], [1, 0]], task: 'classification' }, 'doc.json')), [
      '/y/0/0 must be a one-hot row (0s and one 1), has 0.2',
    ]);
    assert.equal(datasetFromJson({ x: [1, 2], y: [[0.2, 0.8], [1, 0]] }, 'doc.json').train.task, 'regression');
    assert.equal(datasetFromJson({ x: [1, 2], y: [[0, 1], [1, 0]], task: 'regression' }, 'doc.json').train.targetSize, 2);
    assert.deepEqual(problems(() => datasetFromJson({ x: [1], y: [[0, 1]], test: { x: [2], y: [[0, 0, 1]] } }, 'doc.json')), [
      '/test/y/0 must have the shape of /y/0 (2 values)',
    ]);
  });

  it('loads a file through loadDataset, using its own test split', async () => {
    const file = join(dir, 'small.json');
    const x = Array.from({ length: 10 }, (_, i) => [i, -i]);
    writeFileSync(file, JSON.stringify({ x, y: x.map((_, i) => i % 2), test: { x: [[9, 9]], y: [1] } }));
    const splits = await loadDataset(file, { valFraction: 0.2, seed: 1 });
    assert.equal(splits.train.name, 'small');
    assert.deepEqual([splits.train.count, splits.val.count, splits.test.count], [8, 2, 1]);
    assert.deepEqual(Array.from(splits.test.x), [9, 9]);
  });

  it('names the file for unreadable or malformed JSON', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"x": [1, 2');
    assert.throws(() => loadJsonDataset(file), (e: unknown) => {
      assert.ok(NasError.is(e, 'E_DATA_READ'));
      assert.equal(e.details['file'], file);
      assert.equal(e.details['offset'], 11);
      return true;
    });
    const missing = join(dir, 'missing.json');
    assert.throws(() => loadJsonDataset(missing), (e: unknown) => NasError.is(e, 'E_DATA_READ') && e.details['file'] === missing);
  });
});
