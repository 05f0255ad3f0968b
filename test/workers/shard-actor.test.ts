// The shard actor: in-process with the in-memory store, then on a real worker thread with LMDB.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShardActor } from '../../workers/shard/actor.js';
import { MemoryStore, type Commit } from '../../workers/store.js';
import { ActorCrashedError, Mailbox, MailboxFullError } from '../../workers/mailbox.js';
import { wire } from '../../workers/codec.js';
import { type ShardActorData, type ShardReply, type BatchPayload, packRecords } from '../../workers/protocol.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { rule, rules, record } from '../helpers/config.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const config = rules([rule({ id: 'calls-day', limit: 2 })]);

function data (over: Partial<ShardActorData> = {}): ShardActorData {
  return { config, dataPath: null, shards: 1, owned: [0], fingerprint: 'f1', ...over };
}

function batch (epoch: number, records: UsageRecord[]): { kind: 'batch', epoch: number, records: Uint8Array, release: number } {
  const payload: BatchPayload = { records: packRecords(records), index: records.map((_, i) => i), watermark: records.map((r) => r.ts) };
  return { kind: 'batch', epoch, records: wire.pack(payload), release: 0 };
}

function alertsOf (reply: ShardReply): string[] {
  assert.is(reply.kind, 'applied');
  return reply.kind === 'applied' ? reply.output.alerts.map((a) => `${a.alert.rule}:${a.alert.key}:${a.alert.record}`) : [];
}

async function waitUntil (ok: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const calls = (n: number, from = 0): UsageRecord[] => Array.from({ length: n }, (_, i) => record({ id: `r${from + i}`, ts: T0 + (from + i) * 1000, account: 'a1' }));

const inProcess = suite('workers/shard/actor: in-process with MemoryStore');

inProcess('applies epochs in order and raises the alert on the record that crosses', async () => {
  const actor = await ShardActor.open(data(), new MemoryStore(), () => 0);
  assert.equal(alertsOf(await actor.receive(batch(1, calls(2)))), []);
  assert.equal(alertsOf(await actor.receive(batch(2, calls(2, 2)))), ['calls-day:a1:r2']);
  assert.is(actor.committedEpoch, 2);
});

inProcess('an epoch it already committed is answered from the outbox, not counted again', async () => {
  const store = new MemoryStore();
  const actor = await ShardActor.open(data(), store, () => 0);
  await actor.receive(batch(1, calls(3)));
  const again = await actor.receive(batch(1, calls(3)));
  assert.equal(alertsOf(again), ['calls-day:a1:r2']);
  assert.ok(again.kind === 'applied' && again.replayed);
  const stats = await actor.receive({ kind: 'stats' });
  assert.ok(stats.kind === 'stats' && stats.keys === 1);
  const counter = await actor.receive({ kind: 'counter', rule: 'calls-day', key: 'a1', ts: T0 });
  assert.equal(counter.kind === 'counter' ? counter.value?.value : -1, 3);
});

inProcess('a gap in epochs is refused with VIGIL_EPOCH_GAP', async () => {
  const actor = await ShardActor.open(data(), new MemoryStore(), () => 0);
  const reply = await actor.receive(batch(3, calls(1)));
  assert.is(reply.kind, 'error');
  assert.is(reply.kind === 'error' ? reply.error.code : '', 'VIGIL_EPOCH_GAP');
  assert.is(reply.kind === 'error' ? reply.error.message : '', 'epoch 3 arrived after 0: epochs must be applied in order without gaps');
});

inProcess('an actor reopened on its store resumes with the committed counters', async () => {
  const store = new MemoryStore();
  const first = await ShardActor.open(data(), store, () => 0);
  await first.receive(batch(1, calls(2)));
  const second = await ShardActor.open(data(), store, () => 0);
  assert.is(second.committedEpoch, 1);
  assert.equal(alertsOf(await second.receive(batch(2, calls(1, 2)))), ['calls-day:a1:r2']);
});

inProcess('a store written with other rules is refused', async () => {
  const store = new MemoryStore();
  await ShardActor.open(data(), store, () => 0);
  try {
    await ShardActor.open(data({ fingerprint: 'f2' }), store, () => 0);
    assert.unreachable('should refuse');
  } catch (err) {
    assert.is((err as { code: string }).code, 'VIGIL_STORE_CORRUPT');
    assert.is((err as Error).message, 'the data folder holds counters of other rules (fingerprint f1, these rules f2); use another --data folder, or the rules it was written with');
  }
});

/** The in-memory store, noting what each transaction held. */
class NotingStore extends MemoryStore {
  readonly transactions: Array<{ epochs: number[], rows: number }> = [];
  override async commitMany (cs: readonly Commit[]): Promise<void> {
    this.transactions.push({ epochs: cs.map((c) => c.epoch), rows: cs.reduce((n, c) => n + c.rows.length, 0) });
    await super.commitMany(cs);
  }
}

inProcess('epochs applied while a commit is written go together in the next, their rows taken once', async () => {
  const store = new NotingStore();
  const actor = await ShardActor.open(data(), store, () => 0);
  const replies = await Promise.all([1, 2, 3, 4].map((e) => actor.receive(batch(e, calls(1, e - 1)))));
  assert.equal(replies.map(alertsOf), [[], [], ['calls-day:a1:r2'], []]);
  // The first commits alone; the three applied while it was written share one transaction,
  // and the account's row, changed by all three, is written once.
  assert.equal(store.transactions, [{ epochs: [1], rows: 1 }, { epochs: [2, 3, 4], rows: 1 }]);
  assert.is(actor.committedEpoch, 4);
  // Each epoch of the group keeps its own outbox entry: a resend is answered, not applied.
  assert.equal(alertsOf(await actor.receive(batch(3, calls(1, 2)))), ['calls-day:a1:r2']);
  const reopened = await ShardActor.open(data(), store, () => 0);
  assert.is(reopened.committedEpoch, 4);
  const counter = await reopened.receive({ kind: 'counter', rule: 'calls-day', key: 'a1', ts: T0 });
  assert.equal(counter.kind === 'counter' ? counter.value?.value : -1, 4);
});

/** The in-memory store with a disk that fills up after `commits` transactions. */
class FillingStore extends MemoryStore {
  private commits: number;
  constructor (commits: number) { super(); this.commits = commits; }
  override async commitMany (cs: readonly Commit[]): Promise<void> {
    if (this.commits-- <= 0) throw new Error('MDB_MAP_FULL: Environment mapsize limit reached');
    await super.commitMany(cs);
  }
}

inProcess('after a failed commit the actor applies nothing more, so nothing it counted goes unstored', async () => {
  const store = new FillingStore(1);
  const actor = await ShardActor.open(data(), store, () => 0);
  assert.equal(alertsOf(await actor.receive(batch(1, calls(1)))), []);
  const message = "a commit to the data folder failed (MDB_MAP_FULL: Environment mapsize limit reached); this shard actor's counters are ahead of what is stored, so it applies nothing more until its thread is restarted from the last commit";
  // The failing commit's own reply and every later one: one code, the store's error named in
  // the message and, for a coordinator to quote, on its own.
  for (const epoch of [2, 3]) {
    const reply = await actor.receive(batch(epoch, calls(1, epoch - 1)));
    assert.equal(reply.kind === 'error' ? reply.error : reply.kind, { name: 'StoreFailedError', code: 'VIGIL_STORE_FAILED', message, cause: 'MDB_MAP_FULL: Environment mapsize limit reached' });
  }
  // Restarted on the store, it stands at the last commit; epoch 2 is sent to it again.
  const restarted = await ShardActor.open(data(), store, () => 0);
  assert.is(restarted.committedEpoch, 1);
});

/** The in-memory store whose first `failures` transactions fail, as a disk briefly full would. */
class FlakyStore extends MemoryStore {
  private failures: number;
  constructor (failures: number) { super(); this.failures = failures; }
  override async commitMany (cs: readonly Commit[]): Promise<void> {
    if (this.failures-- > 0) throw new Error('ENOSPC: no space left on device');
    await super.commitMany(cs);
  }
}

inProcess('epochs applied while the failing commit was written are refused, not committed without its rows', async () => {
  const store = new FlakyStore(1);
  const actor = await ShardActor.open(data(), store, () => 0);
  // Epoch 1 commits alone and fails; 2-4, applied meanwhile, wait for the next group. Written,
  // that group would mark epoch 4 committed with only their rows: epoch 1's count lost.
  const replies = await Promise.all([1, 2, 3, 4].map((e) => actor.receive(batch(e, calls(1, e - 1)))));
  assert.equal(replies.map((r) => r.kind === 'error' ? r.error.code : r.kind), ['VIGIL_STORE_FAILED', 'VIGIL_STORE_FAILED', 'VIGIL_STORE_FAILED', 'VIGIL_STORE_FAILED']);
  const restarted = await ShardActor.open(data(), store, () => 0);
  assert.is(restarted.committedEpoch, 0);
  for (const e of [1, 2, 3, 4]) assert.is((await restarted.receive(batch(e, calls(1, e - 1)))).kind, 'applied');
  const counter = await restarted.receive({ kind: 'counter', rule: 'calls-day', key: 'a1', ts: T0 });
  assert.equal(counter.kind === 'counter' ? counter.value?.value : -1, 4);
});

inProcess.run();

interface Ctx { dir: string }
const thread = suite<Ctx>('workers/shard/main: real worker thread + LMDB', {} as Ctx);
thread.before.each((ctx) => { ctx.dir = tempDir(); });
thread.after.each((ctx) => { removeDir(ctx.dir); });

thread('counters survive the thread: a new mailbox on the same folder goes on counting', async ({ dir }) => {
  const d = data({ dataPath: join(dir, 'data') });
  const a = new Mailbox({ actor: 0, data: d, depth: 2 });
  try {
    assert.equal(alertsOf(await a.send(batch(1, calls(2)))), []);
  } finally {
    await a.close();
  }
  const b = new Mailbox({ actor: 0, data: d, depth: 2 });
  try {
    assert.equal(alertsOf(await b.send(batch(2, calls(1, 2)))), ['calls-day:a1:r2']);
    const counter = await b.send({ kind: 'counter', rule: 'calls-day', key: 'a1', ts: T0 });
    assert.equal(counter.kind === 'counter' ? counter.value?.value : -1, 3);
  } finally {
    await b.close();
  }
});

thread('a data folder the thread cannot open is answered as an error naming it, not a crash of the process', async ({ dir }) => {
  const notAFolder = join(dir, 'a-file');
  writeFileSync(notAFolder, 'not a data folder\n');
  const m = new Mailbox({ actor: 0, data: data({ dataPath: notAFolder }), depth: 2 });
  try {
    const reply = await m.send({ kind: 'stats' });
    assert.equal(reply.kind === 'error' ? [reply.error.code, reply.error.message] : reply.kind, ['VIGIL_DATA_UNAVAILABLE', `cannot open the data folder ${notAFolder}: Not a directory: Attempting to setup locks`]);
  } finally {
    await m.close();
  }
});

thread('an error the thread throws outside any message restarts it and is reported, the process goes on', async ({ dir }) => {
  const marker = join(dir, 'thrown');
  process.env.VIGIL_TEST_STRAY_MARKER = marker;
  const errors: string[] = [];
  const m = new Mailbox({ actor: 4, data: data({ dataPath: join(dir, 'data') }), depth: 2, filename: new URL('../fixtures/stray-error-shard.js', import.meta.url).href, onError: (err) => { errors.push(err.message); } });
  try {
    assert.equal(alertsOf(await m.send(batch(1, calls(2)))), []);
    assert.is((await m.send({ kind: 'stats' })).kind, 'stats');
    await waitUntil(() => errors.length > 0, 5_000, 'the stray error');
    assert.equal(errors, ['a stray callback failed']);
    assert.ok(existsSync(marker));
    // The new thread reopened the store: the count goes on from the commit.
    assert.equal(alertsOf(await m.send(batch(2, calls(1, 2)))), ['calls-day:a1:r2']);
  } finally {
    delete process.env.VIGIL_TEST_STRAY_MARKER;
    await m.close();
  }
});

thread('restart ends the thread: what it held is rejected as a crash, and the new thread resumes from the store', async ({ dir }) => {
  const m = new Mailbox({ actor: 2, data: data({ dataPath: join(dir, 'data') }), depth: 2 });
  try {
    assert.equal(alertsOf(await m.send(batch(1, calls(2)))), []);
    assert.is(m.generation, 0);
    const held = m.send({ kind: 'stats' }).then(() => 'answered', (err: unknown) => err);
    const restarted = m.restart();
    assert.is(m.generation, 1);
    // Sent during the restart: waits for the new thread.
    const after = m.send(batch(2, calls(1, 2)));
    await restarted;
    const err = await held;
    assert.instance(err, ActorCrashedError);
    assert.is((err as ActorCrashedError).message, "shard actor 2's thread stopped: Terminating worker thread");
    assert.equal(alertsOf(await after), ['calls-day:a1:r2']);
    const counter = await m.send({ kind: 'counter', rule: 'calls-day', key: 'a1', ts: T0 });
    assert.equal(counter.kind === 'counter' ? counter.value?.value : -1, 3);
  } finally {
    await m.close();
  }
  const closed = await m.send({ kind: 'stats' }).then(() => 'answered', (err: unknown) => (err as Error).message);
  assert.is(closed, "shard actor 2's mailbox is closed");
});

thread('batches in flight at once are applied in order', async ({ dir }) => {
  const m = new Mailbox({ actor: 0, data: data({ dataPath: join(dir, 'data') }), depth: 4 });
  try {
    const replies = await Promise.all([1, 2, 3, 4].map((e) => m.send(batch(e, calls(1, e - 1)))));
    assert.equal(replies.map(alertsOf), [[], [], ['calls-day:a1:r2'], []]);
  } finally {
    await m.close();
  }
});

thread('a full mailbox refuses with MailboxFullError instead of growing', async ({ dir }) => {
  const m = new Mailbox({ actor: 3, data: data({ dataPath: join(dir, 'data') }), depth: 1 });
  try {
    const sent = Array.from({ length: 12 }, async () => await m.send({ kind: 'stats' }).then(() => 'ok', (err: unknown) => err));
    const results = await Promise.all(sent);
    const full = results.filter((r): r is MailboxFullError => r instanceof MailboxFullError);
    assert.ok(full.length > 0, 'some sends must be refused');
    assert.ok(results.filter((r) => r === 'ok').length >= 3, 'the thread and the queue take some');
    assert.is(full[0]!.code, 'VIGIL_MAILBOX_FULL');
    assert.is(full[0]!.message, "shard actor 3's mailbox is full; the sender must wait for replies");
  } finally {
    await m.close();
  }
});

thread.run();
