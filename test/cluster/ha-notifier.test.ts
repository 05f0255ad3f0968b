// Several notifiers, one blocklist: a real JetStream nats-server, a worker node (coordinator +
// node roles) and notifier processes (`vigil serve --config`), a rule with `action: block`
// and a webhook. Every notifier answers the same blocks and the same alert history whichever
// took the alerts from the shared consumer; a lift through one reaches the others with the
// same audit log; after a NATS restart they go on alike; a SIGKILLed notifier leaves the others answering every block and comes back
// on its folder from where it was; a notifier started later on a fresh data folder gets the
// whole blocklist and history; the webhook gets each alert once across the notifiers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert } from '../../core/alert.js';
import { Blocklist } from '../../cluster/blocklist.js';
import { connect, type NatsConnection } from '../../workers/nats-client.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { postAll, request, startServe, stopServe, within, type Running } from '../helpers/node.js';
import { startHttpReceiver, type HttpReceiver } from '../fixtures/receivers.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { rule, rules } from '../helpers/config.js';

const T = Date.parse('2026-11-21T10:00:00+01:00');
/** accounts that reach the limit: each is blocked by one critical alert */
const BLOCKED = Array.from({ length: 12 }, (_, i) => `acct-${i}`);

interface Ctx { dir: string, nats: NatsServer, nc: NatsConnection, hook: HttpReceiver, prefix: string, rules: string, nodes: Running[] }
const test = suite<Ctx>('cluster/ha-notifier: every notifier holds the whole blocklist and alert history', {} as Ctx);

test.before(async (ctx) => {
  ctx.dir = tempDir('vigil-ha-');
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
  ctx.hook = await startHttpReceiver();
  ctx.prefix = `ha${process.pid}`;
  ctx.nodes = [];
  ctx.rules = join(ctx.dir, 'rules.yaml');
  writeFileSync(ctx.rules, `version: 1
channels:
  hook: { type: webhook, url: "${ctx.hook.url}" }
rules:
  - { id: calls, by: account, measure: count, window: day, limit: 2, action: block, notify: [hook] }
`);
});

test.after(async (ctx) => {
  for (const node of ctx.nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  await ctx.nc?.close();
  await ctx.hook?.close();
  await ctx.nats?.stop();
  removeDir(ctx.dir);
});

async function start (ctx: Ctx, id: string, roles: readonly string[], prefix = ctx.prefix): Promise<Running> {
  const file = join(ctx.dir, `${id}.yaml`);
  writeFileSync(file, [
    `rules: ${ctx.rules}`,
    `data: ${join(ctx.dir, id)}`,
    'listen: 127.0.0.1:0',
    'threads: 1',
    'batch: { max_wait: 2ms }',
    `nats: { servers: ["${ctx.nats.url}"], prefix: ${prefix} }`,
    `cluster: { roles: [${roles.join(', ')}], node_id: ${id}, shards: 4, lease: 2s, replicas: 1 }`,
  ].join('\n') + '\n');
  const node = await startServe(file);
  ctx.nodes.push(node);
  return node;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually (what: string, ms: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

type BlockJson = { key: string, blocked: true, since: string, rule: string, alert: Alert };

async function blocks (port: number): Promise<BlockJson[]> {
  return (await request(port, 'GET', '/v1/blocks?limit=1000')).json.blocks as BlockJson[];
}

async function alerts (port: number): Promise<Alert[]> {
  const out: Alert[] = [];
  let after: string | null = null;
  do {
    const reply = await request(port, 'GET', `/v1/alerts?limit=5${after === null ? '' : `&after=${encodeURIComponent(after)}`}`);
    out.push(...(reply.json.alerts as Alert[]));
    after = reply.json.next as string | null;
  } while (after !== null);
  return out;
}

/** The sum of a counter's samples whose line starts with `prefix` (a name and labels). */
async function counted (port: number, prefix: string): Promise<number> {
  const text = (await request(port, 'GET', '/metrics')).text;
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}
const alertsCounted = async (port: number): Promise<number> => await counted(port, 'vigil_alerts_total{');

type Check = { key: string, blocked: boolean, since?: string, rule?: string, alert?: Alert };
async function check (nc: NatsConnection, subject: string, key: string): Promise<Check> {
  try {
    return (await within(10_000, `${subject} ${key}`, nc.request(subject, key, { timeout: 5_000 }))).json<Check>();
  } catch (err) {
    throw new Error(`${subject} ${key}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function records (accounts: readonly string[], from: number): string[] {
  return accounts.flatMap((account, a) => [0, 1, 2].map((i) => JSON.stringify({ id: `${account}-r${i}`, ts: T + from + a * 10_000 + i * 1000, account, called: '+4930123' })));
}

test('two notifiers answer the same blocks; a lift on one reaches the other; one killed, the other answers; a late one gets it all', async (ctx) => {
  const { nc, hook, prefix } = ctx;
  const subject = `${prefix}.blocks.check`;
  const worker = await start(ctx, 'w', ['coordinator', 'node']);
  const a = await start(ctx, 'a', ['notifier']);
  const b = await start(ctx, 'b', ['notifier']);

  // In several POSTs, so the notifiers' shared consumer has several batches to share out.
  for (let i = 0; i < BLOCKED.length; i += 3) {
    await postAll(worker.port, records(BLOCKED.slice(i, i + 3), i * 10_000), 100);
    await sleep(50);
  }
  await eventually('every key blocked on both notifiers', 30_000, async () =>
    (await blocks(a.port)).length === BLOCKED.length && (await blocks(b.port)).length === BLOCKED.length);

  // The same blocks, whichever notifier took the alert that made each.
  const onA = await blocks(a.port);
  assert.equal(onA.map((x) => x.key), [...BLOCKED].sort());
  assert.equal(await blocks(b.port), onA);
  for (const block of onA) {
    const [fromA, fromB] = [await request(a.port, 'GET', `/v1/blocks/${block.key}`), await request(b.port, 'GET', `/v1/blocks/${block.key}`)];
    assert.equal([fromA.status, fromB.status], [200, 200], block.key);
    assert.equal(fromB.json, fromA.json, block.key);
    assert.equal([block.rule, block.alert.record], ['calls', `${block.key}-r2`]);
  }
  // blocks.check is answered by either notifier (a queue group): blocked every time.
  for (let round = 0; round < 5; round++) {
    for (const block of onA) {
      const answer = await check(nc, subject, block.key);
      assert.equal(answer, { key: block.key, blocked: true, since: block.since, rule: 'calls', alert: block.alert }, `${block.key}, round ${round}`);
    }
  }

  // The same alert history on both, page by page, though each took only some of the alerts.
  const history = await alerts(a.port);
  assert.equal(history.filter((x) => x.severity === 'critical').map((x) => x.key).sort(), [...BLOCKED].sort());
  assert.equal(await alerts(b.port), history);
  // vigil_alerts_total counts where the shared consumer handed an alert: summed, each once.
  await eventually('both notifiers to count the alerts they took', 10_000, async () => await alertsCounted(a.port) + await alertsCounted(b.port) === history.length);
  const [tookA, tookB] = [await alertsCounted(a.port), await alertsCounted(b.port)];
  assert.ok(tookA > 0 && tookB > 0, `each notifier took a share of the alerts (a ${tookA}, b ${tookB}), so neither saw them all`);

  // A lift on a: answered once a applied it, seen on b with the same audit log.
  const key = BLOCKED[0]!;
  const lift = await request(a.port, 'DELETE', `/v1/blocks/${key}`);
  assert.is(lift.status, 200, lift.text);
  const lifted = (lift.json as { lifted: { at: string } }).lifted;
  assert.equal(lift.json, { key, blocked: false, lifted: { action: 'lift', key, at: lifted.at, by: 'api:anonymous', rule: 'calls' } });
  assert.is((await request(a.port, 'GET', `/v1/blocks/${key}`)).status, 404, 'lifted on a when its DELETE answers');
  await eventually(`${key} lifted on b`, 10_000, async () => (await request(b.port, 'GET', `/v1/blocks/${key}`)).status === 404);
  // In step, so the same sequence applied: every block event and the lift.
  const applied = [await counted(a.port, 'vigil_block_events_applied '), await counted(b.port, 'vigil_block_events_applied ')];
  assert.equal(applied, [BLOCKED.length + 1, BLOCKED.length + 1], 'vigil_block_events_applied on a and b');
  const audit = (await request(a.port, 'GET', `/v1/blocks/${key}/history`)).json;
  assert.equal((audit.history as Array<{ action: string, by: string }>).map((c) => [c.action, c.by]), [['block', 'rule:calls'], ['lift', 'api:anonymous']]);
  assert.equal((await request(b.port, 'GET', `/v1/blocks/${key}/history`)).json, audit);
  // A change counts on the notifier that published it: summed over the notifiers, once.
  const changes = async (action: string): Promise<number> => await counted(a.port, `vigil_block_changes_total{action="${action}"}`) + await counted(b.port, `vigil_block_changes_total{action="${action}"}`);
  assert.equal([await changes('block'), await changes('lift'), await counted(a.port, 'vigil_block_changes_total{action="lift"}')], [BLOCKED.length, 1, 1]);
  const again = await request(b.port, 'DELETE', `/v1/blocks/${key}`);
  assert.equal([again.status, again.json], [404, { key, blocked: false, error: `key "${key}" is not blocked; nothing to lift` }]);
  assert.equal(await check(nc, subject, key), { key, blocked: false });

  // NATS restarts: the notifiers' own consumers are gone with it and are opened again from
  // where each notifier is, so a block made after it reaches both.
  await ctx.nats.restart();
  await postAll(worker.port, records(['acct-restart'], 100_000), 100);
  for (const n of [a, b]) await eventually('acct-restart blocked on both notifiers', 45_000, async () => (await request(n.port, 'GET', '/v1/blocks/acct-restart')).status === 200);
  const hasAlertOf = async (port: number, k: string): Promise<boolean> => (await alerts(port)).some((x) => x.key === k);
  for (const n of [a, b]) await eventually('acct-restart\'s alert in both histories', 30_000, async () => await hasAlertOf(n.port, 'acct-restart'));
  const afterRestart = await alerts(a.port);
  assert.is(afterRestart.length, history.length + 1);
  assert.equal(await alerts(b.port), afterRestart);
  assert.equal(afterRestart.slice(0, history.length), history, 'the history before the restart, then the new alerts');

  // Every alert reached the webhook once, whichever notifier took it.
  await eventually('the webhook to get every alert', 20_000, async () => hook.requests.length >= afterRestart.length);

  // a dies: b answers every block on its own.
  a.child.kill('SIGKILL');
  await within(10_000, 'a to die', new Promise((resolve) => { if (a.child.signalCode !== null) resolve(undefined); else a.child.once('exit', resolve); }));
  // A request the server routed to a before it noticed the dead connection gets no answer (a
  // switch asks again); once it has, b answers every one.
  await eventually('the server to drop a\'s connection', 10_000, async () => {
    try {
      return (await nc.request(subject, BLOCKED[1]!, { timeout: 1_000 })).json<Check>().blocked;
    } catch {
      return false;
    }
  });
  const still = [...BLOCKED.slice(1), 'acct-restart'];
  for (let round = 0; round < 3; round++) {
    for (const k of still) assert.is((await check(nc, subject, k)).blocked, true, `${k} after a died, round ${round}`);
  }
  // New alerts are taken by b alone now, and block there.
  await postAll(worker.port, records(['acct-late'], 200_000), 100);
  await eventually('acct-late blocked on b', 45_000, async () => (await request(b.port, 'GET', '/v1/blocks/acct-late')).status === 200);

  // c joins on a fresh data folder: the whole blocklist, the audit log and the history.
  const c = await start(ctx, 'c', ['notifier']);
  await eventually('c to hold the whole blocklist', 20_000, async () => (await blocks(c.port)).length === still.length + 1);
  assert.equal(await blocks(c.port), await blocks(b.port));
  assert.equal((await request(c.port, 'GET', `/v1/blocks/${key}/history`)).json, audit);
  await eventually('acct-late\'s alert in b\'s history', 30_000, async () => await hasAlertOf(b.port, 'acct-late'));
  const all = await alerts(b.port);
  assert.is(all.length, afterRestart.length + 1);
  await eventually('c to hold the whole alert history', 20_000, async () => (await alerts(c.port)).length === all.length);
  assert.equal(await alerts(c.port), all);

  await eventually('the webhook to get acct-late\'s alert', 45_000, async () => hook.requests.length >= all.length);
  await sleep(500); // a second delivery of any alert would arrive meanwhile
  const delivered = hook.requests.map((r) => (JSON.parse(r.body) as Alert).id).sort();
  assert.equal(delivered, all.map((x) => x.id).sort(), 'each alert delivered once across the notifiers');

  // a restarted on its folder goes on from the events it applied: it catches up, twice nothing.
  const back = await start(ctx, 'a', ['notifier']);
  await eventually('a to catch up', 20_000, async () => (await blocks(back.port)).length === still.length + 1);
  assert.equal(await blocks(back.port), await blocks(b.port));
  assert.equal((await request(back.port, 'GET', `/v1/blocks/${key}/history`)).json, audit);
  await eventually('a\'s history to catch up', 20_000, async () => (await alerts(back.port)).length === all.length);
  assert.equal(await alerts(back.port), all);

  for (const node of [back, c, b, worker]) {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('a notifier on a folder whose blocklist was written locally (an older Vigil) puts its blocks in the stream for the others; a lift with NATS away answers 503', async (ctx) => {
  const prefix = `${ctx.prefix}u`;
  // The folder of a notifier from before the blocks stream: one key blocked in its own LMDB.
  const old = Blocklist.open(join(ctx.dir, 'old'));
  const alert = { id: 'old-alert-1', rule: 'calls', severity: 'critical', by: ['account'], key: 'acct-old', window: { start: '2026-11-21T00:00:00Z', end: '2026-11-22T00:00:00Z' }, value: 3, limit: 2, record: 'r2', ts: '2026-11-21T09:00:02Z', detectedAt: '2026-11-21T09:00:02.500Z' } satisfies Alert;
  await old.recordEpoch(1, [alert], rules([rule({ id: 'calls', action: 'block' })]).rules, 0);
  await old.close();

  const upgraded = await start(ctx, 'old', ['notifier'], prefix);
  const fresh = await start(ctx, 'fresh', ['notifier'], prefix);
  try {
    const want = { key: 'acct-old', blocked: true, since: '2026-11-21T09:00:02.500Z', alert, rule: 'calls' };
    assert.equal((await request(upgraded.port, 'GET', '/v1/blocks/acct-old')).json, want);
    assert.equal((await request(fresh.port, 'GET', '/v1/blocks/acct-old')).json, want, 'the other notifier has it from the stream');
    assert.equal(((await request(upgraded.port, 'GET', '/v1/blocks/acct-old/history')).json.history as unknown[]).length, 1, 'applied back on its own folder, it changed nothing');
    // NATS paused during a lift: 503 with Retry-After, saying it may not stand. This one does,
    // once NATS goes on: it was on its way.
    const pid = ctx.nats.process.pid!;
    assert.ok(ctx.nats.process.kill('SIGSTOP'), `SIGSTOP to nats-server ${pid}`);
    await eventually('nats-server to be stopped', 5_000, async () => / T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    let lift: Awaited<ReturnType<typeof request>>;
    try {
      lift = await request(fresh.port, 'DELETE', '/v1/blocks/acct-old');
    } finally {
      ctx.nats.process.kill('SIGCONT');
    }
    assert.is(lift.status, 503, lift.text);
    assert.is(lift.headers['retry-after'], '1');
    assert.match(lift.json.error as string, /^the lift of "acct-old" was not confirmed by JetStream \(.+\): it may not stand; check GET \/v1\/blocks\/acct-old, or lift again \(lifting a key that is not blocked changes nothing\)$/);
    for (const n of [fresh, upgraded]) await eventually('the lift on both notifiers', 15_000, async () => (await request(n.port, 'GET', '/v1/blocks/acct-old')).status === 404);
  } finally {
    for (const node of [fresh, upgraded]) {
      const result = await stopServe(node);
      assert.is(result.code, 0, result.stderr);
    }
  }
  // Restarted, it does not publish its blocks again: the lift stands.
  const again = await start(ctx, 'old', ['notifier'], prefix);
  try {
    assert.is((await request(again.port, 'GET', '/v1/blocks/acct-old')).status, 404);
  } finally {
    const result = await stopServe(again);
    assert.is(result.code, 0, result.stderr);
  }
});

test.run();
