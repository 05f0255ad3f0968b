// The blocklist: which alerts block (core/blocklist), the LMDB store (once per epoch, lifts,
// the audit log with who and when, reopened from disk), and `vigil blocks list|lift|history`
// on the data folder a real `vigil replay --data` wrote. Needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userInfo } from 'node:os';
import type { Alert } from '../../core/alert.js';
import type { Block, BlockChange } from '../../core/blocklist.js';
import { actor, blockingAlerts } from '../../core/blocklist.js';
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
