/**
 * The seen-set of new(F) (core/novelty.ts) on its own: the horizon arithmetic, and the two
 * bounds that keep it small (expiry by event time, and MAX_SEEN values per key).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_SEEN, novel, seenExpiresAt, sweepSeen, type SeenSet } from '../../core/novelty.js';

const H = 3_600_000;
const seen = suite('core/novelty: the seen-set');

seen('first use is new, reuse within history is not, reuse history or more after the newest use is', () => {
  const cell: { seen?: SeenSet } = {};
  assert.is(novel(cell, 'SO', 0, 10 * H), 1);
  assert.is(novel(cell, 'SO', 9 * H, 10 * H), 0);
  assert.is(novel(cell, 'SO', 19 * H - 1, 10 * H), 0, 'history counts from the newest use (9h), not the first');
  assert.is(novel(cell, 'SO', 29 * H - 1 + 10 * H, 10 * H), 1);
  assert.is(novel(cell, 'DE', 5 * H, 10 * H), 1, 'another value is new on its own');
});

seen('a record out of order is compared with the newest use and does not move it back', () => {
  const cell: { seen?: SeenSet } = {};
  novel(cell, 'SO', 100 * H, 10 * H);
  assert.is(novel(cell, 'SO', 50 * H, 10 * H), 0);
  assert.is(cell.seen?.get('SO'), 100 * H);
});

seen('the sweep forgets what no acceptable record can meet, front first, and says when it did', () => {
  const cell: { seen?: SeenSet } = {};
  novel(cell, 'a', 0, 10 * H);
  novel(cell, 'b', 1 * H, 10 * H);
  novel(cell, 'c', 2 * H, 10 * H);
  novel(cell, 'a', 3 * H, 10 * H); // moves a to the back
  const s = cell.seen!;
  assert.equal([...s.keys()], ['b', 'c', 'a']);
  assert.is(seenExpiresAt(s, 10 * H), 11 * H);
  assert.is(sweepSeen(s, 10 * H, 11 * H - 1), false, 'b still matters to a record at 11h - 1 ms');
  assert.is(sweepSeen(s, 10 * H, 12 * H), true);
  assert.equal([...s.keys()], ['a']);
  assert.is(seenExpiresAt(s, 10 * H), 13 * H);
  sweepSeen(s, 10 * H, 13 * H);
  assert.is(s.size, 0);
  assert.is(seenExpiresAt(s, 10 * H), -Infinity);
});

seen(`beyond ${MAX_SEEN} values the least recently used is forgotten`, () => {
  const cell: { seen?: SeenSet } = {};
  for (let i = 0; i < MAX_SEEN; i++) novel(cell, `n${i}`, i, 100 * H);
  novel(cell, 'n0', MAX_SEEN, 100 * H); // n0 used again: n1 is now the least recent
  assert.is(novel(cell, 'fresh', MAX_SEEN + 1, 100 * H), 1);
  assert.is(cell.seen!.size, MAX_SEEN);
  assert.is(cell.seen!.has('n1'), false);
  assert.is(novel(cell, 'n0', MAX_SEEN + 2, 100 * H), 0);
  assert.is(novel(cell, 'n1', MAX_SEEN + 3, 100 * H), 1, 'a forgotten value counts as new again');
});

seen.run();
