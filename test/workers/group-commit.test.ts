// Group commit: what is handed in during a write goes in the next write, in order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GroupCommit } from '../../workers/group-commit.js';

test('idle, an item is written at once and alone; during a write, items wait and go together', async () => {
  const writes: number[][] = [];
  let finish: () => void = () => undefined;
  const commits = new GroupCommit<number>((group) => {
    writes.push(group);
    return new Promise<void>((resolve) => { finish = resolve; });
  });
  const first = commits.add(1);
  assert.equal(writes, [[1]]);
  const rest = [commits.add(2), commits.add(3), commits.add(4)];
  assert.equal(writes, [[1]], 'nothing more is written while the first write is under way');
  finish();
  await first;
  await Promise.resolve();
  assert.equal(writes, [[1], [2, 3, 4]]);
  finish();
  await Promise.all(rest);
});

test('a failed write rejects its own items with its error, and the next group is written', async () => {
  let calls = 0;
  const commits = new GroupCommit<string>(async (group) => {
    calls++;
    if (group.includes('bad')) throw new Error('disk full');
  });
  const bad = commits.add('bad');
  const after = commits.add('good');
  try {
    await bad;
    assert.unreachable('the failed write must reject');
  } catch (err) {
    assert.is((err as Error).message, 'disk full');
  }
  await after;
  assert.is(calls, 2);
});

test.run();
