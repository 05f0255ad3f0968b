// The lane actor of a cluster node: one lane per leased shard, each with its own engine and its
// own position in the shard stream. In-process with the in-memory store, then one lane on a
// real worker thread with LMDB reopened after the thread is gone.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { LaneActor } from '../../workers/lanes/actor.js';
import { MemoryStore } from '../../workers/store.js';
import { Mailbox } from '../../workers/mailbox.js';
import { wire } from '../../workers/codec.js';
import type { LaneActorData, LaneMsg, LaneReply, ShardBatch, StreamMessage } from '../../workers/lanes/protocol.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { rule, rules, record } from '../helpers/config.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const config = rules([rule({ id: 'calls-day', limit: 2 })]);
const data = (dataPath = ''): LaneActorData => ({ config, dataPath, shards: 4, fingerprint: 'f1' });

/** an account whose home is shard i of 4 (so a lane of shard i counts it) */
const HOME = ['a4', 'a3', 'a2', 'a1'] as const;
const calls = (n: number, from = 0, account: string = HOME[3]): UsageRecord[] => Array.from({ length: n }, (_, i) => record({ id: `r${from + i}`, ts: T0 + (from + i) * 1000, account }));
const message = (seq: number, records: UsageRecord[]): StreamMessage => {
  const batch: ShardBatch = { records, watermark: records.map((r) => r.ts) };
  return { seq, data: wire.pack(batch) };
};

function applied (reply: LaneReply): { position: number, alerts: string[], applied: number, records: number } {
  if (reply.kind !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(reply)}`);
  return { position: reply.position, alerts: reply.output.alerts.map((a) => `${a.alert.rule}:${a.alert.key}:${a.alert.record}`), applied: reply.applied, records: reply.records };
}

const test = suite('workers/lanes/actor: in-process with MemoryStore');

test('a lane applies stream messages in order, commits its position, and skips what it has counted', async () => {
  const store = new MemoryStore();
  const actor = await LaneActor.open(data(), store, () => 0);
  const opened = await actor.receive({ kind: 'open', shard: 2 });
  assert.equal(opened, { kind: 'opened', shard: 2, position: 0, pending: [] });
  assert.equal(applied(await actor.receive({ kind: 'apply', shard: 2, messages: [message(5, calls(2, 0, 'a2'))] })), { position: 5, alerts: [], applied: 1, records: 2 });
  // A message delivered again (a consumer restarted behind the lane) is skipped; the next one counts.
  const again = applied(await actor.receive({ kind: 'apply', shard: 2, messages: [message(5, calls(2, 0, 'a2')), message(9, calls(1, 2, 'a2'))] }));
  assert.equal(again, { position: 9, alerts: ['calls-day:a2:r2'], applied: 1, records: 1 });
  assert.is(store.epochOf(2), 9, 'the position is committed with the counters');
  assert.equal(store.outputs(2).map((o) => o.epoch), [9], 'the alert waits in the outbox until released');
  assert.equal(await actor.receive({ kind: 'release', shard: 2, upTo: 9 }), { kind: 'done' });
  assert.equal(store.outputs(2), []);
});

test('lanes are independent: each has its own engine, watermark and position', async () => {
  const actor = await LaneActor.open(data(), new MemoryStore(), () => 0);
  await actor.receive({ kind: 'open', shard: 0 });
  await actor.receive({ kind: 'open', shard: 1 });
  // Lane 1 is far ahead in event time; lane 0's older day must still count in full.
  await actor.receive({ kind: 'apply', shard: 1, messages: [message(2, [record({ id: 'x', ts: T0 + 40 * 86_400_000, account: 'a3' })])] });
  const lane0 = applied(await actor.receive({ kind: 'apply', shard: 0, messages: [message(1, calls(3, 0, 'a4'))] }));
  assert.equal(lane0.alerts, ['calls-day:a4:r2']);
  const counter = await actor.receive({ kind: 'counter', shard: 0, rule: 'calls-day', key: 'a4', ts: T0 });
  assert.is(counter.kind === 'counter' ? counter.value?.value : undefined, 3);
  const elsewhere = await actor.receive({ kind: 'counter', shard: 1, rule: 'calls-day', key: 'a4', ts: T0 });
  assert.equal(elsewhere, { kind: 'counter', value: null });
});

test('reopened after a restart, a lane resumes at its committed position and hands back its unreleased alerts', async () => {
  const store = new MemoryStore();
  const first = await LaneActor.open(data(), store, () => 0);
  await first.receive({ kind: 'open', shard: 3 });
  await first.receive({ kind: 'apply', shard: 3, messages: [message(4, calls(3))] });
  const second = await LaneActor.open(data(), store, () => 0);
  const opened = await second.receive({ kind: 'open', shard: 3 });
  assert.is(opened.kind, 'opened');
  if (opened.kind !== 'opened') return;
  assert.is(opened.position, 4);
  assert.equal(opened.pending.map((p) => [p.seq, p.output.alerts.map((a) => a.alert.record)]), [[4, ['r2']]]);
  // The restored counter goes on from 3.
  assert.equal(applied(await second.receive({ kind: 'apply', shard: 3, messages: [message(6, calls(1, 3))] })).alerts, []);
  const counter = await second.receive({ kind: 'counter', shard: 3, rule: 'calls-day', key: 'a1', ts: T0 });
  assert.is(counter.kind === 'counter' ? counter.value?.value : undefined, 4);
});

test('open with reset forgets the shard\'s stored state (the stream no longer covers it) and starts from 0', async () => {
  const store = new MemoryStore();
  const actor = await LaneActor.open(data(), store, () => 0);
  await actor.receive({ kind: 'open', shard: 1 });
  await actor.receive({ kind: 'apply', shard: 1, messages: [message(7, calls(3, 0, 'a3'))] });
  const before = await actor.receive({ kind: 'counter', shard: 1, rule: 'calls-day', key: 'a3', ts: T0 });
  assert.is(before.kind === 'counter' ? before.value?.value : undefined, 3);
  const reopened = await actor.receive({ kind: 'open', shard: 1, reset: true });
  assert.equal(reopened, { kind: 'opened', shard: 1, position: 0, pending: [] });
  assert.equal(await actor.receive({ kind: 'counter', shard: 1, rule: 'calls-day', key: 'a3', ts: T0 }), { kind: 'counter', value: null });
});

test('a store written with other rules and not the rules themselves (an older Vigil) is refused, saying what to do', async () => {
  const store = new MemoryStore();
  await store.setFingerprint('other');
  try {
    await LaneActor.open(data(), store, () => 0);
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /^the node's data folder holds counters of other rules \(fingerprint other, these rules \S+\) and not the rules themselves \(it was written by an older Vigil\), so they cannot be migrated: start it once with the rules it was written with, then with the new ones; or use another data folder$/);
  }
});

test('a new store keeps the rules beside the fingerprint, and a store of the same rules without them gets them', async () => {
  const fresh = new MemoryStore();
  await LaneActor.open(data(), fresh, () => 0);
  assert.ok(fresh.hasRules());
  const older = new MemoryStore();
  await older.setFingerprint(data().fingerprint);
  assert.not.ok(older.hasRules());
  await LaneActor.open(data(), older, () => 0);
  assert.ok(older.hasRules());
});

test('apply to a shard with no open lane is an error reply, not a crash', async () => {
  const actor = await LaneActor.open(data(), new MemoryStore(), () => 0);
  const reply = await actor.receive({ kind: 'apply', shard: 0, messages: [message(1, calls(1))] });
  assert.is(reply.kind, 'error');
});

test.run();

const thread = suite('workers/lanes: on a worker thread with LMDB');

thread('a lane committed on one thread is resumed from LMDB by the next', async () => {
  const dir = tempDir();
  try {
    const file = new URL('../../workers/lanes/main.js', import.meta.url).href;
    const open = (): Mailbox<LaneMsg, LaneReply, LaneActorData> => new Mailbox<LaneMsg, LaneReply, LaneActorData>({ actor: 0, depth: 2, data: data(join(dir, 'lanes')), filename: file });
    const a = open();
    await a.send({ kind: 'open', shard: 3 });
    assert.equal(applied(await a.send({ kind: 'apply', shard: 3, messages: [message(3, calls(2)), message(8, calls(1, 2))] })).alerts, ['calls-day:a1:r2']);
    await a.close();
    const b = open();
    const opened = await b.send({ kind: 'open', shard: 3 });
    assert.is(opened.kind === 'opened' ? opened.position : -1, 8);
    const counter = await b.send({ kind: 'counter', shard: 3, rule: 'calls-day', key: 'a1', ts: T0 });
    assert.is(counter.kind === 'counter' ? counter.value?.value : undefined, 3);
    await b.close();
  } finally {
    removeDir(dir);
  }
});

thread.run();
