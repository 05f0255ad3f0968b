import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { preferredNode, shardsFor } from '../../cluster/ownership.js';

test('every shard has exactly one preferred node, and every node gets a fair share', () => {
  const nodes = ['n1', 'n2', 'n3'];
  const shares = nodes.map((n) => shardsFor(n, nodes, 256));
  assert.is(shares.flat().length, 256);
  assert.is(new Set(shares.flat()).size, 256);
  for (const share of shares) assert.ok(share.length > 256 / 3 * 0.7 && share.length < 256 / 3 * 1.3, `share of ${share.length} is within 30% of a third`);
});

test('the answer does not depend on the order in which nodes are listed', () => {
  for (let s = 0; s < 64; s++) assert.is(preferredNode(s, ['a', 'b', 'c']), preferredNode(s, ['c', 'a', 'b']));
});

test('a node that joins takes shards only from others, never moves a shard between two old nodes', () => {
  const before = ['n1', 'n2'];
  const after = ['n1', 'n2', 'n3'];
  let moved = 0;
  for (let s = 0; s < 256; s++) {
    const a = preferredNode(s, before);
    const b = preferredNode(s, after);
    if (a !== b) { assert.is(b, 'n3', `shard ${s} moved to ${b}`); moved++; }
  }
  assert.ok(moved > 40 && moved < 130, `about a third of the shards move to the new node (moved ${moved})`);
});

test('a node that dies gives up only its own shards', () => {
  for (let s = 0; s < 256; s++) {
    const a = preferredNode(s, ['n1', 'n2', 'n3']);
    const b = preferredNode(s, ['n1', 'n3']);
    if (a !== 'n2') assert.is(b, a);
  }
  assert.is(preferredNode(3, []), undefined);
});

test.run();
