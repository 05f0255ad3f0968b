// The blocklist: which alerts block (core/blocklist), the LMDB store (once per epoch, lifts,
// the audit log with who and when, reopened from disk), a cluster notifier's replica of the
// blocks stream (events applied in order, each once, on a real LMDB folder), and
// `vigil blocks list|lift|history` on the data folder a real `vigil replay --data` wrote.
// Needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userInfo } from 'node:os';
import type { Alert } from '../../core/alert.js';
import type { Block, BlockChange, BlockEvent } from '../../core/blocklist.js';
import { actor, applyBlockEvent, blockEvent, blockingAlerts, liftEvent, parseBlockEvent } from '../../core/blocklist.js';
import { InvalidBlockEventError } from '../../core/errors.js';
import { AlertHistory } from '../../cluster/alert-history.js';
import { Blocklist } from '../../cluster/blocklist.js';
import { rule, rules } from '../helpers/config.js';
import { trafficLines } from '../helpers/traffic.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { runVigil } from '../helpers/cli.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const START = Date.UTC(2026, 2, 27, 20, 0, 0);

function alert (over: Partial<Alert> & { rule: string, key: string }): Alert {
  return {
    id: `${over.rule}/${over.key}/${over.severity ?? 'critical'}`,
    severity: 'critical',
    by: ['account'],
    window: { start: '2026-03-27T00:00:00+01:00', end: '2026-03-28T00:00:00+01:00' },
    value: 12,
    limit: 10,
    record: 'r1',
    ts: '2026-03-27T21:00:00+01:00',
    detectedAt: '2026-03-27T21:00:00.250+01:00',
    ...over,
  };
}

const pure = suite('core/blocklist: which alerts block');

pure('a critical alert of an action: block rule blocks its key, once per key; nothing else does', () => {
  const config = rules([
    rule({ id: 'blocks', action: 'block' }),
    rule({ id: 'blocks-info', action: 'block', severity: 'info' }),
    rule({ id: 'plain' }),
  ]);
  const alerts = [
    alert({ rule: 'plain', key: 'a' }),
    alert({ rule: 'blocks', key: 'b', severity: 'warning' }),
    alert({ rule: 'blocks-info', key: 'c', severity: 'info' }),
    alert({ rule: 'blocks', key: 'd' }),
    alert({ rule: 'blocks', key: 'd', id: 'second' }),
    alert({ rule: 'blocks', key: 'e' }),
  ];
  assert.equal(blockingAlerts(config.rules, alerts).map((a) => [a.key, a.id]), [['d', 'blocks/d/critical'], ['e', 'blocks/e/critical']]);
  assert.equal(blockingAlerts(rules([rule({ id: 'plain' })]).rules, alerts), []);
  assert.equal([actor.rule('x'), actor.api('ops'), actor.api(undefined), actor.cli('ann')], ['rule:x', 'api:ops', 'api:anonymous', 'cli:ann']);
});

pure('an event folds into a key\'s block as on one node: blocked stays as it was, a lift of a free key changes nothing', () => {
  const a = alert({ rule: 'spend', key: 'k' });
  const block = blockEvent(a, 0, 'n1');
  assert.equal(block, { action: 'block', key: 'k', since: '2026-03-27T20:00:00.250Z', by: 'rule:spend', rule: 'spend', alert: a, node: 'n1' });
  const blocked = applyBlockEvent(undefined, block);
  assert.equal(blocked, {
    block: { key: 'k', since: '2026-03-27T20:00:00.250Z', rule: 'spend', alert: a },
    change: { action: 'block', key: 'k', at: '2026-03-27T20:00:00.250Z', by: 'rule:spend', rule: 'spend', alert: a.id },
  });
  const later = blockEvent(alert({ rule: 'spend', key: 'k', id: 'later', detectedAt: '2026-03-28T10:00:00Z' }), 0, 'n2');
  assert.equal(applyBlockEvent(blocked.block, later), { block: blocked.block, change: undefined }, 'already blocked');
  const lift = liftEvent('k', actor.api('ops'), Date.UTC(2026, 2, 28, 9), 'n2');
  assert.equal(applyBlockEvent(blocked.block, lift), { block: undefined, change: { action: 'lift', key: 'k', at: '2026-03-28T09:00:00.000Z', by: 'api:ops', rule: 'spend' } });
  assert.equal(applyBlockEvent(undefined, lift), { block: undefined, change: undefined }, 'not blocked');
  const unreadable = blockEvent(alert({ rule: 'spend', key: 'k', detectedAt: 'garbage' }), Date.UTC(2026, 0, 1), 'n1');
  assert.is(unreadable.action === 'block' ? unreadable.since : undefined, '2026-01-01T00:00:00.000Z', 'an unreadable detection time: the time of the change');
});

pure('a blocks-stream message that is not an event Vigil wrote is refused, naming the field', () => {
  const a = alert({ rule: 'spend', key: 'k' });
  const ok = blockEvent(a, 0, 'n1');
  assert.equal(parseBlockEvent(JSON.parse(JSON.stringify(ok))), ok);
  const lift = liftEvent('k', 'api:ops', 0, 'n1');
  assert.equal(parseBlockEvent(JSON.parse(JSON.stringify(lift))), lift);
  const cases: Array<[unknown, string]> = [
    ['k', 'blocks event must be an object, got "k"'],
    [{ ...ok, action: 'unblock' }, 'blocks event.action must be "block" or "lift", got "unblock"'],
    [{ ...ok, key: '' }, 'blocks event.key must be a non-empty string, got ""'],
    [{ ...lift, at: 5 }, 'blocks event.at must be a non-empty string, got 5'],
    [{ ...ok, node: undefined }, 'blocks event.node must be a non-empty string, got nothing'],
    [{ ...ok, alert: { ...a, key: 'other' } }, 'blocks event.alert must be an alert (with an id) of key "k", got {"id":"spend/k/critical","severity":"critical","by":["accou…'],
  ];
  for (const [input, message] of cases) {
    try {
      parseBlockEvent(input);
      assert.unreachable(message);
    } catch (err) {
      assert.instance(err, InvalidBlockEventError);
      assert.equal([(err as InvalidBlockEventError).code, (err as Error).message], ['VIGIL_INVALID_BLOCK_EVENT', message]);
    }
  }
});

pure.run();

// ---------------------------------------------------------------------------------------------

interface StoreCtx { dir: string }
const store = suite<StoreCtx>('cluster/blocklist: the LMDB store', {} as StoreCtx);
store.before.each((ctx) => { ctx.dir = tempDir(); });
store.after.each((ctx) => { removeDir(ctx.dir); });

const BLOCKING = rules([rule({ id: 'spend', action: 'block' })]).rules;

store('an epoch blocks once; an epoch written again changes nothing; a lift is logged with who and when', async ({ dir }) => {
  const list = Blocklist.open(dir);
  const a = alert({ rule: 'spend', key: 'acct-1' });
  const changes = await list.recordEpoch(3, [a, alert({ rule: 'spend', key: 'acct-2' })], BLOCKING, 0);
  assert.equal(changes.map((c) => [c.action, c.key, c.by, c.at]), [
    ['block', 'acct-1', 'rule:spend', '2026-03-27T20:00:00.250Z'],
    ['block', 'acct-2', 'rule:spend', '2026-03-27T20:00:00.250Z'],
  ]);
  assert.equal(await list.recordEpoch(3, [alert({ rule: 'spend', key: 'acct-3' })], BLOCKING, 0), [], 'epoch 3 again (a resend after a crash)');
  assert.equal(await list.recordEpoch(4, [alert({ rule: 'spend', key: 'acct-1', id: 'later' })], BLOCKING, 0), [], 'already blocked: stays as it was');
  assert.equal(list.get('acct-1'), { key: 'acct-1', since: '2026-03-27T20:00:00.250Z', rule: 'spend', alert: a } satisfies Block);
  assert.is(list.count(), 2);

  const lifted = await list.lift('acct-1', actor.api('ops'), Date.UTC(2026, 2, 28, 9));
  assert.equal(lifted, { action: 'lift', key: 'acct-1', at: '2026-03-28T09:00:00.000Z', by: 'api:ops', rule: 'spend' } satisfies BlockChange);
  assert.is(await list.lift('acct-1', actor.api('ops'), 0), undefined, 'not blocked any more');
  assert.is(list.get('acct-1'), undefined);
  // Blocked again by a later epoch after the lift: a new change.
  const again = await list.recordEpoch(5, [alert({ rule: 'spend', key: 'acct-1', id: 'again' })], BLOCKING, 0);
  assert.equal(again.map((c) => [c.action, c.alert]), [['block', 'again']]);
  await list.close();

  const reopened = Blocklist.open(dir);
  try {
    assert.equal(reopened.history('acct-1').map((c) => [c.action, c.by, c.alert ?? null]), [
      ['block', 'rule:spend', 'spend/acct-1/critical'],
      ['lift', 'api:ops', null],
      ['block', 'rule:spend', 'again'],
    ]);
    assert.equal(reopened.history('acct-9'), []);
    assert.equal(reopened.list().map((b) => b.key), ['acct-1', 'acct-2']);
    assert.equal(reopened.list(1).map((b) => b.key), ['acct-1']);
    assert.equal(reopened.list(10, 'acct-1').map((b) => b.key), ['acct-2'], 'paged after a key');
  } finally {
    await reopened.close();
  }
});

store('a key longer than any counter key (1024 bytes) was never blocked nor alerted on: asked for, it is none, not an LMDB error', async ({ dir }) => {
  const long = 'k'.repeat(3_000);
  const list = Blocklist.open(dir);
  try {
    assert.is(list.get(long), undefined);
    assert.equal(list.history(long), []);
    assert.is(await list.lift(long, actor.api('ops'), 0), undefined);
  } finally {
    await list.close();
  }
  const history = new AlertHistory(dir, 86_400_000);
  try {
    assert.equal(history.query({ key: long, limit: 10 }), { alerts: [], next: null });
    assert.equal(history.query({ rule: long, limit: 10 }), { alerts: [], next: null });
  } finally {
    await history.close();
  }
});

store.run();

// ---------------------------------------------------------------------------------------------

interface ReplicaCtx { dir: string }
const replica = suite<ReplicaCtx>('cluster/blocklist: a cluster notifier\'s replica of the blocks stream, on a real LMDB folder', {} as ReplicaCtx);
replica.before.each((ctx) => { ctx.dir = tempDir(); });
replica.after.each((ctx) => { removeDir(ctx.dir); });

const at = (seq: number, event: BlockEvent | undefined): { seq: number, event: BlockEvent | undefined } => ({ seq, event });

replica('events apply in stream order; a sequence delivered again applies once, also after a reopen', async ({ dir }) => {
  const a1 = alert({ rule: 'spend', key: 'acct-1' });
  const a2 = alert({ rule: 'spend', key: 'acct-2' });
  const list = Blocklist.open(dir);
  assert.is(list.appliedSeq(), 0);
  const first = await list.applyEvents([at(1, blockEvent(a1, 0, 'n1')), at(2, blockEvent(a2, 0, 'n2')), at(3, liftEvent('acct-1', 'api:ops', Date.UTC(2026, 2, 28, 9), 'n2'))]);
  assert.equal(first.map((e) => [e.seq, e.change?.action ?? null]), [[1, 'block'], [2, 'block'], [3, 'lift']]);
  assert.is(list.appliedSeq(), 3);
  // A consumer opened again from an older position delivers 2..4 again: only 4 is new.
  const again = await list.applyEvents([at(2, blockEvent(a2, 0, 'n2')), at(3, liftEvent('acct-1', 'api:ops', 0, 'n2')), at(4, blockEvent(alert({ rule: 'spend', key: 'acct-1', id: 'again' }), 0, 'n1'))]);
  assert.equal(again.map((e) => [e.seq, e.change?.action ?? null]), [[4, 'block']]);
  await list.close();

  const reopened = Blocklist.open(dir);
  try {
    assert.is(reopened.appliedSeq(), 4);
    assert.equal(await reopened.applyEvents([at(1, blockEvent(a1, 0, 'n1')), at(4, liftEvent('acct-1', 'api:ops', 0, 'n1'))]), [], 'all applied before the reopen');
    assert.equal(reopened.history('acct-1').map((c) => [c.action, c.by, c.at]), [
      ['block', 'rule:spend', '2026-03-27T20:00:00.250Z'],
      ['lift', 'api:ops', '2026-03-28T09:00:00.000Z'],
      ['block', 'rule:spend', '2026-03-27T20:00:00.250Z'],
    ]);
    assert.equal(reopened.list().map((b) => [b.key, b.alert.id]), [['acct-1', 'again'], ['acct-2', a2.id]]);
  } finally {
    await reopened.close();
  }
});

replica('a block of a blocked key and a lift of a free key change nothing, log nothing, and still move the position', async ({ dir }) => {
  const a = alert({ rule: 'spend', key: 'acct-1' });
  const list = Blocklist.open(dir);
  try {
    await list.applyEvents([at(1, blockEvent(a, 0, 'n1'))]);
    const noops = await list.applyEvents([
      at(2, blockEvent(alert({ rule: 'spend', key: 'acct-1', id: 'second', detectedAt: '2026-03-28T10:00:00Z' }), 0, 'n2')),
      at(3, liftEvent('acct-9', 'api:ops', 0, 'n1')),
      at(4, undefined),
    ]);
    assert.equal(noops, [{ seq: 2, event: noops[0]!.event, change: undefined }, { seq: 3, event: noops[1]!.event, change: undefined }, { seq: 4, event: undefined, change: undefined }]);
    assert.is(list.appliedSeq(), 4);
    assert.equal(list.get('acct-1'), { key: 'acct-1', since: '2026-03-27T20:00:00.250Z', rule: 'spend', alert: a } satisfies Block, 'blocked as it was');
    assert.equal(list.history('acct-1').map((c) => c.action), ['block']);
    assert.equal(list.history('acct-9'), []);
  } finally {
    await list.close();
  }
});

replica('an alert\'s block event seen again (past the dedupe window) does not block its key again after a lift', async ({ dir }) => {
  const a = alert({ rule: 'spend', key: 'acct-1' });
  const list = Blocklist.open(dir);
  try {
    const applied = await list.applyEvents([at(1, blockEvent(a, 0, 'n1')), at(2, liftEvent('acct-1', 'api:ops', 0, 'n2')), at(3, blockEvent(a, 0, 'n1'))]);
    assert.equal(applied.map((e) => e.change?.action ?? null), ['block', 'lift', null]);
    assert.is(list.get('acct-1'), undefined);
    const next = await list.applyEvents([at(4, blockEvent(alert({ rule: 'spend', key: 'acct-1', id: 'next' }), 0, 'n1'))]);
    assert.equal(next.map((e) => e.change?.action ?? null), ['block'], 'the next alert of the rule blocks it again');
  } finally {
    await list.close();
  }
});

replica('two replicas fed the same events, in batches cut differently, hold the same blocks and audit log', async ({ dir }) => {
  const events = [
    blockEvent(alert({ rule: 'spend', key: 'a' }), 0, 'n1'),
    blockEvent(alert({ rule: 'spend', key: 'b' }), 0, 'n2'),
    liftEvent('a', 'api:ops', Date.UTC(2026, 2, 28), 'n1'),
    liftEvent('a', 'api:ops', Date.UTC(2026, 2, 28), 'n2'),
    blockEvent(alert({ rule: 'spend', key: 'a', id: 'a2' }), 0, 'n2'),
    blockEvent(alert({ rule: 'spend', key: 'b', id: 'b2' }), 0, 'n1'),
  ].map((e, i) => at(i + 1, e));
  const one = Blocklist.open(join(dir, 'one'));
  const two = Blocklist.open(join(dir, 'two'));
  try {
    await one.applyEvents(events);
    for (const e of events) await two.applyEvents([e]);
    await two.applyEvents(events.slice(2));
    assert.equal(two.list(), one.list());
    for (const key of ['a', 'b']) assert.equal(two.history(key), one.history(key), key);
    assert.equal(one.history('a').map((c) => c.action), ['block', 'lift', 'block']);
  } finally {
    await one.close();
    await two.close();
  }
});

replica('vigil blocks lift refuses a folder whose blocklist follows a blocks stream (exit 2), and lifts nothing; list and history still read it', async ({ dir }) => {
  const list = Blocklist.open(dir);
  await list.follow('ACME_BLOCKS');
  await list.applyEvents([at(1, blockEvent(alert({ rule: 'spend', key: 'acct-1' }), 0, 'n1'))]);
  assert.is(list.follows(), 'ACME_BLOCKS');
  await list.close();
  const lift = await runVigil(['blocks', 'lift', 'acct-1', '--data', dir]);
  assert.equal([lift.code, lift.stdout, lift.stderr], [2, '', `vigil: ${dir} is a cluster notifier's folder: its blocklist is a replica of the JetStream stream ACME_BLOCKS, and a lift written here would change this copy alone while every other notifier still blocks the key; lift acct-1 through a notifier's API: DELETE /v1/blocks/acct-1\n`]);
  const listed = await runVigil(['blocks', 'list', '--data', dir]);
  assert.equal([listed.code, listed.stderr], [0, '1 key blocked\n']);
  const history = await runVigil(['blocks', 'history', 'acct-1', '--data', dir]);
  assert.equal(history.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as BlockChange).action), ['block']);
});

replica('the alert history of a cluster notifier stores each alerts-stream message once, at its stream time and sequence', async ({ dir }) => {
  const history = new AlertHistory(dir, 86_400_000 * 365 * 100);
  const a = alert({ rule: 'spend', key: 'k1', id: 'a' });
  const b = alert({ rule: 'spend', key: 'k2', id: 'b' });
  const c = alert({ rule: 'other', key: 'k1', id: 'c' });
  const now = Date.UTC(2026, 2, 28);
  try {
    assert.is(history.streamSeq(), 0);
    assert.is(await history.recordStream([{ seq: 5, at: 1_000, alert: a }, { seq: 6, at: 2_000, alert: b }], now), 2);
    // Delivered again from 5 (a consumer opened again), a copy of a under a new sequence (past
    // the stream's dedupe window), a message that is not an alert, then c.
    assert.is(await history.recordStream([{ seq: 5, at: 1_000, alert: a }, { seq: 6, at: 2_000, alert: b }, { seq: 7, at: 3_000, alert: a }, { seq: 8, at: 3_500, alert: undefined }, { seq: 9, at: 2_500, alert: c }], now), 1);
    assert.is(history.streamSeq(), 9);
    const all = history.query({ limit: 10 });
    assert.equal(all.alerts.map((x) => x.id), ['a', 'b', 'c']);
    assert.equal(history.query({ key: 'k1', limit: 10 }).alerts.map((x) => x.id), ['a', 'c']);
    assert.equal(history.query({ limit: 1 }).next, '1000.5.0', 'the cursor is the stream time and sequence: the same on every notifier');
    assert.equal(history.query({ since: 2_000, limit: 10 }).alerts.map((x) => x.id), ['b', 'c'], 'c, stored at 2.5 s after b at 2 s, is kept after b: never back in time');
  } finally {
    await history.close();
  }
});

replica.run();

// ---------------------------------------------------------------------------------------------

interface CliCtx { dir: string, data: string, alerts: Alert[] }
const cli = suite<CliCtx>('cluster/cli: vigil blocks on a replay\'s data folder', {} as CliCtx);
cli.before(async (ctx) => {
  ctx.dir = tempDir();
  const rulesFile = join(ctx.dir, 'rules.yaml');
  writeFileSync(rulesFile, readFileSync(RULES, 'utf8').replace('limit: 6 }', 'limit: 6, action: block }'));
  const input = join(ctx.dir, 'cdrs.jsonl');
  writeFileSync(input, trafficLines({ seed: 4, records: 3_000, start: START }).join('\n') + '\n');
  ctx.data = join(ctx.dir, 'data');
  const alerts = join(ctx.dir, 'alerts.jsonl');
  const r = await runVigil(['replay', '--rules', rulesFile, '--data', ctx.data, '--threads', '1', '--epoch', '500', '--alerts', alerts, input]);
  assert.is(r.code, 0, r.stderr);
  ctx.alerts = readFileSync(alerts, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
});
cli.after((ctx) => { removeDir(ctx.dir); });

cli('replay --data blocks the key of every critical fanout alert; blocks list prints them as JSON lines', async ({ data, alerts }) => {
  const first = new Map<string, Alert>();
  for (const a of alerts) if (a.rule === 'fanout' && a.severity === 'critical' && !first.has(a.key)) first.set(a.key, a);
  assert.ok(first.size > 3, `expected several blocking alerts, got ${first.size}`);
  const r = await runVigil(['blocks', 'list', '--data', data]);
  assert.is(r.code, 0, r.stderr);
  const listed = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Block);
  assert.equal(listed.map((b) => b.key), [...first.keys()].sort());
  for (const b of listed) {
    assert.equal(b.alert, first.get(b.key), b.key);
    assert.is(b.rule, 'fanout');
    assert.is(b.since, new Date(Date.parse(b.alert.detectedAt)).toISOString());
  }
  assert.is(r.stderr, `${listed.length} keys blocked\n`);
});

cli('blocks lift KEY lifts it as cli:<user> (or --by NAME), history shows both changes, a second lift has nothing to do', async ({ data }) => {
  const [a, b] = (await runVigil(['blocks', 'list', '--data', data])).stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Block).key);
  const lifted = await runVigil(['blocks', 'lift', a!, '--data', data]);
  assert.is(lifted.code, 0, lifted.stderr);
  const change = JSON.parse(lifted.stdout) as BlockChange;
  assert.equal([change.action, change.key, change.by, change.rule], ['lift', a, `cli:${userInfo().username}`, 'fanout']);
  assert.ok(Math.abs(Date.parse(change.at) - Date.now()) < 60_000);
  const named = await runVigil(['blocks', 'lift', b!, '--data', data, '--by', 'alice']);
  assert.is((JSON.parse(named.stdout) as BlockChange).by, 'cli:alice');
  const again = await runVigil(['blocks', 'lift', a!, '--data', data]);
  assert.equal([again.code, again.stdout, again.stderr], [0, '', `${a!} is not blocked in ${data}; nothing to lift\n`]);
  const history = await runVigil(['blocks', 'history', a!, '--data', data]);
  assert.equal(history.stdout.split('\n').filter(Boolean).map((l) => { const c = JSON.parse(l) as BlockChange; return [c.action, c.by]; }), [['block', 'rule:fanout'], ['lift', `cli:${userInfo().username}`]]);
  const list = await runVigil(['blocks', 'list', '--data', data]);
  assert.not.ok(list.stdout.includes(`"key":"${a!}"`));
});

cli('bad usage exits 2; a folder that is not there exits 1 and says so', async ({ dir }) => {
  const usage = await runVigil(['blocks', 'lift', '--data', dir]);
  assert.is(usage.code, 2);
  assert.match(usage.stderr, /^vigil: blocks lift needs exactly one KEY\n/);
  const noData = await runVigil(['blocks', 'list']);
  assert.equal([noData.code, noData.stderr.split('\n')[0]], [2, 'vigil: blocks list needs --data DIR (the data folder of a node or of a replay --data)']);
  const sub = await runVigil(['blocks', 'drop', 'x', '--data', dir]);
  assert.equal([sub.code, sub.stderr.split('\n')[0]], [2, 'vigil: blocks needs list, lift KEY or history KEY, got "drop"']);
  const missing = await runVigil(['blocks', 'list', '--data', join(dir, 'nope')]);
  assert.equal([missing.code, missing.stderr], [1, `vigil: no data folder ${join(dir, 'nope')}\n`]);
  const empty = await runVigil(['blocks', 'list', '--data', dir]);
  assert.equal([empty.code, empty.stdout, empty.stderr], [0, '', '0 keys blocked\n'], 'a folder nothing was ever blocked in');
});

cli('a path that is not a data folder exits 1 naming it, for blocks and risk alike; nothing is made where nothing was', async ({ dir }) => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'not a data folder\n');
  const rules = join(dir, 'rules.yaml');
  const notAFolder = `vigil: ${file} is not a data folder (it is a file); give the folder of a node or of a replay --data\n`;
  for (const args of [['blocks', 'list'], ['blocks', 'lift', 'k'], ['blocks', 'history', 'k'], ['risk', '--rules', rules, 'k']]) {
    const r = await runVigil([...args, '--data', file]);
    assert.equal([r.code, r.stdout, r.stderr], [1, '', notAFolder], args.join(' '));
    const missing = join(dir, 'nowhere');
    const gone = await runVigil([...args, '--data', missing]);
    assert.equal([gone.code, gone.stdout, gone.stderr], [1, '', `vigil: no data folder ${missing}\n`], args.join(' '));
    assert.not.ok(existsSync(missing), `${args.join(' ')} made nothing at ${missing}`);
  }
  assert.is(readFileSync(file, 'utf8'), 'not a data folder\n');
});

cli.run();
