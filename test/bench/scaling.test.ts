// Key-scaling points of `vigil bench`: one that does not fit this process's heap runs in a
// child process started with the heap it needs, and reports what an in-process point does.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { keyPoint, keyPointInChild } from '../../bench/scaling.js';

const test = suite('bench/scaling: key points');

test('a point in a child process with its own heap counts the same keys as one run here', async () => {
  const here = await keyPoint(5_000);
  const child = await keyPointInChild(5_000, 256);
  assert.is(child.skipped, undefined, child.skipped);
  assert.is(here.keys, 10_000, 'two engine keys per record: a new caller and a new subscription');
  assert.is(child.keys, here.keys);
  assert.is(child.records, 5_000);
  assert.ok(child.recordsPerSec > 0 && child.heapMiB >= 0 && (child.bytesPerKey ?? 0) > 0, JSON.stringify(child));
});

test('a child that cannot hold the point is reported as skipped with the reason, not thrown', async () => {
  const child = await keyPointInChild(2_000_000, 16);
  assert.ok(child.skipped !== undefined && /child process with 16 MiB of heap failed/.test(child.skipped), JSON.stringify(child));
  assert.is(child.records, 0);
});

test.run();
