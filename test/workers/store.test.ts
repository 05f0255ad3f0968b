// The ShardStore contract, run against the LMDB store (real files) and its in-memory twin.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { LmdbStore, MemoryStore, type ShardStore, type Commit } from '../../workers/store.js';
import type { Row } from '../../core/engine.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

function row (key: string, shard: number, value: number): Row {
  return { key, shard, cells: [{ windows: [{ start: 0, end: 60_000, n: 1, a: value, fired: [0], distinct: new Set(['x']), ends: undefined, starts: undefined, newestStart: -Infinity, limits: undefined }] }, undefined] };
}

function commit (epoch: number, shards: number[], rows: Row[], removed: Commit['removed'] = []): Commit {
  return {
    epoch,
    shards,
    meta: { watermark: epoch * 1000 },
    rows: rows.map((r) => ({ shard: r.shard, keyer: 0, row: r })),
    removed,
    output: { alerts: [], failures: epoch === 2 ? [{ index: 3, reason: 'boom', code: 'VIGIL_RULE_FAILED' }] : [] },
  };
}

function contract (name: string, make: (dir: string) => ShardStore): void {
  interface Ctx { dir: string, store: ShardStore }
  const test = suite<Ctx>(`workers/store: ${name}`, {} as Ctx);
  test.before.each((ctx) => { ctx.dir = tempDir(); ctx.store = make(join(ctx.dir, 'data')); });
  test.after.each(async (ctx) => { await ctx.store.close(); removeDir(ctx.dir); });

  test('a new store has no fingerprint, no meta and epoch 0', ({ store }) => {
    assert.is(store.fingerprint(), undefined);
    assert.is(store.meta([0, 1]), undefined);
    assert.is(store.epochOf(0), 0);
  });

  test('a commit writes rows, meta and the epoch of every owned shard at once', async ({ store }) => {
    await store.commit(commit(1, [0, 2], [row('a', 0, 5), row('b', 2, 7)]));
    assert.is(store.epochOf(0), 1);
    assert.is(store.epochOf(2), 1);
    assert.is(store.epochOf(1), 0);
    assert.equal(store.meta([0, 2]), { watermark: 1000 });
    const rows = [...store.rows([0, 2])].map((r) => [r.shard, r.row.key, (r.row.cells[0] as { windows: Array<{ a: number }> }).windows[0]!.a]);
    assert.equal(rows.sort(), [[0, 'a', 5], [2, 'b', 7]]);
  });

  test('rows come back with their Sets intact and only for the shards asked', async ({ store }) => {
    await store.commit(commit(1, [0, 2], [row('a', 0, 5), row('b', 2, 7)]));
    const rows = [...store.rows([2])];
    assert.is(rows.length, 1);
    const w = (rows[0]!.row.cells[0] as { windows: Array<{ distinct: Set<string> }> }).windows[0]!;
    assert.ok(w.distinct instanceof Set);
    assert.ok(w.distinct.has('x'));
  });

  test('a later commit replaces a row and removes deleted keys', async ({ store }) => {
    await store.commit(commit(1, [0], [row('a', 0, 5), row('b', 0, 1)]));
    await store.commit(commit(2, [0], [row('a', 0, 9)], [{ shard: 0, keyer: 0, key: 'b' }]));
    const rows = [...store.rows([0])];
    assert.equal(rows.map((r) => r.row.key), ['a']);
    assert.is((rows[0]!.row.cells[0] as { windows: Array<{ a: number }> }).windows[0]!.a, 9);
  });

  test('a key removed and written again in one commit keeps its new row', async ({ store }) => {
    await store.commit(commit(1, [0], [row('a', 0, 5)]));
    await store.commit(commit(2, [0], [row('a', 0, 1)], [{ shard: 0, keyer: 0, key: 'a' }]));
    const rows = [...store.rows([0])];
    assert.equal(rows.map((r) => r.row.key), ['a']);
    assert.is((rows[0]!.row.cells[0] as { windows: Array<{ a: number }> }).windows[0]!.a, 1);
  });

  test('outputs(shard) lists a shard\'s unreleased outbox entries oldest first, and only its own', async ({ store }) => {
    const failing = (epoch: number, shard: number): Commit => ({ ...commit(epoch, [shard], []), output: { alerts: [], failures: [{ index: 0, reason: `r${epoch}`, code: 'VIGIL_RULE_FAILED' }] } });
    await store.commit(failing(12, 3));
    await store.commit(failing(2, 3));
    await store.commit(failing(5, 4));
    await store.commit(commit(7, [3], []));
    assert.equal(store.outputs(3).map((o) => [o.epoch, o.output.failures[0]?.reason]), [[2, 'r2'], [12, 'r12']], 'epoch 7 raised nothing, so it has no entry');
    assert.equal(store.outputs(4).map((o) => o.epoch), [5]);
    await store.release(2, [3]);
    assert.equal(store.outputs(3).map((o) => o.epoch), [12]);
  });

  test('dropShard forgets one shard\'s rows, epoch, meta and outbox, and nothing of the others', async ({ store }) => {
    await store.commit({ ...commit(2, [1], [row('a', 1, 5)]), output: { alerts: [], failures: [{ index: 0, reason: 'x', code: 'VIGIL_RULE_FAILED' }] } });
    await store.commit({ ...commit(2, [3], [row('b', 3, 7)]), output: { alerts: [], failures: [{ index: 0, reason: 'y', code: 'VIGIL_RULE_FAILED' }] } });
    await store.dropShard(1);
    assert.equal([store.epochOf(1), store.meta([1]), [...store.rows([1])].length, store.outputs(1).length], [0, undefined, 0, 0]);
    assert.equal([store.epochOf(3), [...store.rows([3])].length, store.outputs(3).length], [2, 1, 1]);
  });

  test('the outbox keeps an epoch\'s output until it is released', async ({ store }) => {
    await store.commit(commit(1, [0], []));
    await store.commit(commit(2, [0], []));
    assert.equal(store.output(2, 0)?.failures, [{ index: 3, reason: 'boom', code: 'VIGIL_RULE_FAILED' }]);
    await store.release(1, [0]);
    assert.ok(store.output(2, 0) !== undefined);
    await store.release(2, [0]);
    assert.is(store.output(2, 0), undefined);
  });

  test('the fingerprint is kept', async ({ store }) => {
    await store.setFingerprint('abc');
    assert.is(store.fingerprint(), 'abc');
  });

  test.run();
}

contract('LmdbStore (real LMDB files)', (path) => new LmdbStore(path));
contract('MemoryStore', () => new MemoryStore());

const durable = suite('workers/store: LmdbStore durability');
durable('what one store committed, a store reopened on the same folder reads back', async () => {
  const dir = tempDir();
  try {
    const a = new LmdbStore(join(dir, 'data'));
    await a.commit(commit(1, [3], [row('k', 3, 42)]));
    await a.close();
    const b = new LmdbStore(join(dir, 'data'));
    assert.is(b.epochOf(3), 1);
    assert.equal([...b.rows([3])].map((r) => r.row.key), ['k']);
    await b.close();
  } finally {
    removeDir(dir);
  }
});
durable.run();
