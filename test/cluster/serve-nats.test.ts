// A node on NATS (interfaces.md) in all three roles: it answers `vigil.blocks.check` for
// switches and gateways, and its `nats` channels publish there. A real JetStream nats-server on
// a free loopback port. Records are acknowledged once JetStream holds them and counted just
// after, so the test waits for the block rather than expecting it with the acknowledgement.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '../../workers/nats-client.js';
import { parseConfig } from '../../cluster/config.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { request, startServe, stopServe, within, type Running } from '../helpers/node.js';
import { waitFor } from '../fixtures/receivers.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { configError } from '../helpers/config-error.js';

const T = Date.parse('2026-11-21T10:00:00+01:00');

interface Ctx { dir: string, nats: NatsServer, nc: NatsConnection }
const test = suite<Ctx>('cluster/serve: on NATS, blocks.check and nats channels', {} as Ctx);
test.before(async (ctx) => {
  ctx.dir = tempDir();
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
});
test.after(async (ctx) => {
  await ctx.nc.close();
  await ctx.nats.stop();
  removeDir(ctx.dir);
});

/** A node on the suite's NATS with `rules` in its own files named `name`, and `extra` config lines. */
async function clusterNode (dir: string, nats: NatsServer, name: string, rules: string, extra = ''): Promise<{ node: Running, rules: string }> {
  const file = join(dir, `${name}-rules.yaml`);
  writeFileSync(file, rules);
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, `rules: ${file}\ndata: ${join(dir, `${name}-data`)}\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { servers: ["${nats.url}"], prefix: ${name} }\n${extra}`);
  return { node: await startServe(config), rules: file };
}

test('a blocked key is blocked on vigil.blocks.check; alerts reach the nats channel', async ({ dir, nats, nc }) => {
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `version: 1
channels:
  bus: { type: nats, subject: fraud.alerts }
rules:
  - { id: calls, by: account, measure: count, window: day, limit: 2, action: block, notify: [bus] }
`);
  const config = join(dir, 'node.yaml');
  writeFileSync(config, `rules: ${rules}\ndata: ${join(dir, 'data')}\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { servers: ["${nats.url}"] }\n`);
  const published: string[] = [];
  nc.subscribe('fraud.alerts', { callback: (err, msg) => { if (err === null) published.push(msg.string()); } });
  await nc.flush();
  const node = await startServe(config);
  try {
    const lines = [0, 1, 2].map((i) => JSON.stringify({ id: `r${i}`, ts: T + i * 1000, account: 'acct-9', called: '+4930123' }));
    assert.is((await request(node.port, 'POST', '/v1/records', { body: lines.join('\n') + '\n' })).status, 202);

    type Check = { key: string, blocked: boolean, rule: string, alert: { record: string } };
    let blocked: Check | undefined;
    await waitFor(async () => {
      blocked = (await nc.request('vigil.blocks.check', 'acct-9', { timeout: 5000 })).json<Check>();
      return blocked.blocked;
    }, 20_000, 'acct-9 blocked');
    blocked = blocked!;
    assert.equal([blocked.key, blocked.blocked, blocked.rule, blocked.alert.record], ['acct-9', true, 'calls', 'r2']);
    const free = (await nc.request('vigil.blocks.check', JSON.stringify({ key: 'acct-1' }), { timeout: 5000 })).json<unknown>();
    assert.equal(free, { key: 'acct-1', blocked: false });
    const bad = (await nc.request('vigil.blocks.check', '', { timeout: 5000 })).json<{ error: string }>();
    assert.is(bad.error, 'a blocks.check request carries the key as text, or JSON {"key": "…"}');

    await waitFor(() => published.length > 0, 20_000, 'the alert on fraud.alerts');
    assert.is((JSON.parse(published[0]!) as { record: string }).record, 'r2');
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('a coordinator rejects a record dated far ahead of its clock as future; the present still counts', async ({ dir, nats, nc }) => {
  const { node } = await clusterNode(dir, nats, 'ahead', 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: minute, limit: 100 }\n', 'max_ahead: 5m\n');
  try {
    const now = Date.now();
    const cdr = (id: string, ts: number | string): string => JSON.stringify({ id, ts, account: 'acct-7', called: '+4930123' });
    type Answer = { accepted: number, rejected: number, rejects: Array<{ seq: number, reason: string }> };
    const ask = async (lines: string[]): Promise<Answer> => (await within(15_000, 'ahead.in', nc.request('ahead.in', lines.join('\n'), { timeout: 10_000 }))).json<Answer>();
    const first = await ask([cdr('f1', '9999-01-01T00:00:00Z'), cdr('f2', now + 6 * 60_000), cdr('p1', now - 30_000)]);
    assert.equal([first.accepted, first.rejected, first.rejects.map((r) => r.seq)], [1, 2, [1, 2]]);
    assert.match(first.rejects[0]!.reason, /^future: record\.ts 9999-01-01T00:00:00Z is 7972(\.\d)? years ahead of this node's clock \(\S+\); config\.max_ahead allows 5 min$/);
    assert.match(first.rejects[1]!.reason, /^future: record\.ts \S+ is 6 min ahead of this node's clock/);
    // Had 9999 moved the coordinator's watermark, this record's minute would be long discarded.
    const second = await ask([cdr('p2', now)]);
    assert.equal([second.accepted, second.rejected], [1, 0]);
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('a restarted coordinator judges lateness from the watermark in the shard stream, not from nothing', async ({ dir, nats, nc }) => {
  const rules = 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: minute, limit: 100 }\n';
  const cdr = (id: string, ts: number): string => JSON.stringify({ id, ts, account: 'acct-3', called: '+4930123' });
  type Answer = { accepted: number, rejected: number, rejects: Array<{ seq: number, reason: string }> };
  const ask = async (lines: string[]): Promise<Answer> => (await within(15_000, 'restart.in', nc.request('restart.in', lines.join('\n'), { timeout: 10_000 }))).json<Answer>();
  const now = Date.now();
  const first = await clusterNode(dir, nats, 'restart', rules);
  try {
    assert.equal((await ask([cdr('p1', now)])).accepted, 1);
  } finally {
    assert.is((await stopServe(first.node)).code, 0);
  }
  // Two hours old: its minute closed more than lateness (1 h) before the watermark of the first run.
  const again = await clusterNode(dir, nats, 'restart', rules);
  try {
    const old = await ask([cdr('o1', now - 2 * 3_600_000), cdr('p2', now + 1000)]);
    assert.equal([old.accepted, old.rejected, old.rejects.map((r) => r.seq)], [1, 1, [1]]);
    assert.match(old.rejects[0]!.reason, /^late: record\.ts \S+ falls in a window that closed at \S+ and was discarded \(watermark \S+, lateness 60 min\)$/);
  } finally {
    assert.is((await stopServe(again.node)).code, 0);
  }
});

test('a coordinator restarted on a shard stream whose watermark is far ahead of its clock says so', async ({ dir, nats, nc }) => {
  const rules = 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: day, limit: 100 }\n';
  const unbounded = await clusterNode(dir, nats, 'poisoned', rules, 'max_ahead: none\n');
  try {
    const reply = (await within(15_000, 'poisoned.in', nc.request('poisoned.in', JSON.stringify({ id: 'f1', ts: '9999-01-01T00:00:00Z', account: 'acct-1', called: '+4930123' }), { timeout: 10_000 }))).json<{ accepted: number }>();
    assert.is(reply.accepted, 1, 'without a bound the record is taken');
  } finally {
    assert.is((await stopServe(unbounded.node)).code, 0);
  }
  const bounded = await clusterNode(dir, nats, 'poisoned', rules);
  const result = await stopServe(bounded.node);
  assert.is(result.code, 0, result.stderr);
  const warning = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.watermark !== undefined);
  assert.ok(warning !== undefined, result.stderr);
  assert.equal([warning.level, warning.watermark], ['warn', '9999-01-01T00:00:00Z']);
  assert.match(warning.warning as string, /^the watermark restored from the shard stream POISONED_SHARDS is 9999-01-01T00:00:00Z, 7972(\.\d)? years ahead of this node's clock: records of the present fall in windows that closed before it and will be rejected as late/);
});

test('a cluster node restarted with other rules migrates its lanes\' counters, as a reload does: a changed credit limit applies to the spend so far', async ({ dir, nats, nc }) => {
  const rules = (limit: number, extra = ''): string => `version: 1\nrules:\n  - { id: spend, by: account, measure: sum(cost), window: day, limit: 100, limits: { acct-5: ${limit} } }\n${extra}`;
  const cdr = (id: string, i: number): string => JSON.stringify({ id, ts: T + i * 1000, account: 'acct-5', called: '+4930123', cost: 4 });
  const send = async (lines: string[]): Promise<void> => {
    const answer = (await within(15_000, 'migrate.in', nc.request('migrate.in', lines.join('\n'), { timeout: 10_000 }))).json<{ accepted: number }>();
    assert.is(answer.accepted, lines.length);
  };
  const spend = async (port: number): Promise<{ value: number, limit: number }> => (await request(port, 'GET', `/v1/counters/spend/acct-5?at=${T}`)).json as { value: number, limit: number };
  const before = await clusterNode(dir, nats, 'migrate', rules(10));
  try {
    await send([cdr('m1', 0), cdr('m2', 1)]);
    await waitFor(async () => (await spend(before.node.port)).value === 8, 20_000, 'the spend counted');
  } finally {
    assert.is((await stopServe(before.node)).code, 0);
  }
  // The credit limit lowered to 9, and a rule added.
  const after = await clusterNode(dir, nats, 'migrate', rules(9, '  - { id: calls, by: account, measure: count, window: hour, limit: 1000 }\n'));
  try {
    assert.equal(await spend(after.node.port), { rule: 'spend', key: 'acct-5', value: 8, limit: 9, window: { start: '2026-11-21T00:00:00Z', end: '2026-11-22T00:00:00Z' } });
    await send([cdr('m3', 2)]);
    let alerts: Array<{ rule: string, value: number, limit: number, record: string }> = [];
    await waitFor(async () => {
      alerts = (await request(after.node.port, 'GET', '/v1/alerts?rule=spend')).json.alerts as typeof alerts;
      return alerts.length > 0;
    }, 20_000, 'the spend alert');
    assert.equal(alerts.map((a) => [a.value, a.limit, a.record]), [[12, 9, 'm3']]);
  } finally {
    const result = await stopServe(after.node);
    assert.is(result.code, 0, result.stderr);
    const migrated = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.migrated !== undefined);
    assert.ok(migrated !== undefined, result.stderr);
    assert.equal([migrated.kept_counters, migrated.dropped_counters, migrated.kept_rows], [1, 0, 1]);
  }
});

test('PUT /v1/rules on a cluster node is refused with 405 (Allow: GET) saying to restart every node, and the rules stay', async ({ dir, nats }) => {
  const text = 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: day, limit: 2 }\n';
  const { node, rules } = await clusterNode(dir, nats, 'rl', text);
  try {
    const before = await request(node.port, 'GET', '/v1/rules');
    const put = await request(node.port, 'PUT', '/v1/rules', { body: text.replace('limit: 2', 'limit: 3') });
    assert.is(put.status, 405, put.text);
    assert.is(put.headers.allow, 'GET');
    assert.equal(put.json, { error: 'rules are not reloaded in place in a cluster: restart every node with the new rules file (each node migrates the counters of its lanes to them as it starts)' });
    assert.equal((await request(node.port, 'GET', '/v1/rules')).json, before.json);
    assert.is(readFileSync(rules, 'utf8'), text);
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('SIGHUP on a cluster node logs that rules are not reloaded in place, and the node runs on', async ({ dir, nats }) => {
  const text = 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: day, limit: 2 }\n';
  const { node, rules } = await clusterNode(dir, nats, 'hup', text);
  try {
    node.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    let line: string | undefined;
    while (line === undefined && Date.now() < deadline) {
      line = node.stderr().split('\n').find((l) => l.includes('"reload_failed":'));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(line !== undefined, 'a reload_failed line');
    assert.is((JSON.parse(line) as { reload_failed: string }).reload_failed, `${rules}: rules are not reloaded in place in a cluster: restart every node with the new rules file (each node migrates the counters of its lanes to them as it starts); the active rules stay`);
    assert.is((await request(node.port, 'GET', '/healthz')).status, 200);
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('a cluster node asked for another role\'s work answers 421 naming the role, not 503 (retry) or 500', async ({ dir, nats }) => {
  const { node } = await clusterNode(dir, nats, 'role', 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: day, limit: 2, action: block }\n', 'cluster: { roles: [node] }\n');
  try {
    const post = await request(node.port, 'POST', '/v1/records', { body: JSON.stringify({ id: 'r1', ts: Date.parse('2026-11-21T10:00:00Z'), account: 'a1' }) + '\n' });
    assert.equal([post.status, post.json], [421, { error: 'this node does not run the coordinator role (config.cluster.roles): send this to a node that does' }]);
    const lift = await request(node.port, 'DELETE', '/v1/blocks/a1');
    assert.equal([lift.status, lift.json], [421, { error: 'this node does not run the notifier role (config.cluster.roles): send this to a node that does' }]);
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('a stopping cluster node keeps its port until what it took is held by JetStream, answering 503 meanwhile', async ({ dir, nats }) => {
  const { node } = await clusterNode(dir, nats, 'stop', 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: day, limit: 5 }\n');
  const record = (i: number): string => JSON.stringify({ id: `s${i}`, ts: T + i * 1000, account: 'a1', called: '+4930123' }) + '\n';
  let paused = false;
  try {
    assert.is((await request(node.port, 'POST', '/v1/records', { body: record(0) })).status, 202);
    // NATS paused: the next POST's records cannot reach JetStream, so the node has work to finish when told to stop.
    nats.process.kill('SIGSTOP');
    paused = true;
    const pending = request(node.port, 'POST', '/v1/records', { body: record(1) });
    pending.catch(() => undefined); // awaited below; a node that dropped it must fail the test there, not crash the run
    await new Promise((resolve) => setTimeout(resolve, 300));
    node.child.kill('SIGTERM');
    let ready: Awaited<ReturnType<typeof request>> | undefined;
    for (let i = 0; i < 50 && ready?.status !== 503; i++) {
      ready = await request(node.port, 'GET', '/readyz');
      if (ready.status !== 503) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.is(ready?.status, 503, 'the port is still open while the stop waits for JetStream');
    assert.ok(ready?.headers['retry-after'] !== undefined, 'with Retry-After');
    const late = await request(node.port, 'POST', '/v1/records', { body: record(2) });
    assert.is(late.status, 503, late.text);
    nats.process.kill('SIGCONT');
    paused = false;
    assert.is((await pending).status, 202, 'the record taken before the stop is held by JetStream and acknowledged');
    const result = await within(30_000, 'the node to exit', node.done);
    assert.is(result.code, 0, result.stderr);
  } finally {
    if (paused) nats.process.kill('SIGCONT');
    if (node.child.exitCode === null) await stopServe(node, 'SIGKILL').catch(() => undefined);
  }
});

test('config.nats is checked: servers must be nats:// URLs, the prefix NATS tokens', () => {
  const cases: Array<[string, string]> = [
    ['nats: { servers: [] }', 'node.yaml:3:18 config.nats.servers must be a list of server URLs such as nats://127.0.0.1:4222, got []'],
    ['nats: { servers: ["http://x:4222"] }', 'node.yaml:3:19 config.nats.servers must hold URLs such as nats://127.0.0.1:4222, got "http://x:4222"'],
    ['nats: { servers: ["nats://127.0.0.1:4222"], prefix: "a b" }', 'node.yaml:3:53 config.nats.prefix must be NATS subject tokens such as vigil or acme.fraud (no spaces or wildcards), got "a b"'],
  ];
  for (const [line, message] of cases) assert.is(configError(`rules: r.yaml\ndata: d\n${line}\n`, 'node.yaml').message, message);
  const ok = parseConfig('rules: r.yaml\ndata: d\nnats: { servers: ["nats://127.0.0.1:4222"], prefix: acme.fraud }\n', '/etc/n.yaml');
  assert.equal(ok.nats, { servers: ['nats://127.0.0.1:4222'], prefix: 'acme.fraud', auth: { kind: 'none' }, tls: undefined });
});

test.run();
