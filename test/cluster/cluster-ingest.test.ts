// Cluster ingest (interfaces.md, "NATS subjects"): records on `<prefix>.in` as JSON or
// MessagePack, one or an array, acknowledged once JetStream holds them; rejects on
// `<prefix>.rejected`; coordinators sharing `<prefix>.in` as a queue group; a node with NATS
// auth on. Cluster nodes run in this process against a real JetStream nats-server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../cluster/config.js';
import { ClusterServe } from '../../cluster/cluster-serve.js';
import { clusterNames } from '../../cluster/jetstream.js';
import { connect, jetstreamManager, type NatsConnection } from '../../workers/nats-client.js';
import { pack } from '../../workers/codec.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { request } from '../helpers/node.js';
import { histogramValue, parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { waitFor } from '../fixtures/receivers.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const T = Date.parse('2026-11-21T10:00:00+01:00');
const RULES = `version: 1
rules:
  - { id: calls, by: account, measure: count, window: day, limit: 1000000 }
  - { id: busy, by: account, measure: count, window: day, limit: 2 }
`;
const quiet = (): void => undefined;

interface Ctx { dir: string, nats: NatsServer, nc: NatsConnection, nodes: ClusterServe[] }
const test = suite<Ctx>('cluster: ingest over NATS', {} as Ctx);
test.before(async (ctx) => {
  ctx.dir = tempDir();
  writeFileSync(join(ctx.dir, 'rules.yaml'), RULES);
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
});
test.before.each((ctx) => { ctx.nodes = []; });
test.after.each(async (ctx) => { for (const n of ctx.nodes.reverse()) await n.stop(); });
test.after(async (ctx) => {
  await ctx.nc.close();
  await ctx.nats.stop();
  removeDir(ctx.dir);
});

async function node (ctx: Ctx, id: string, prefix: string, roles: string, nats = `servers: ["${ctx.nats.url}"]`): Promise<ClusterServe> {
  const file = join(ctx.dir, `${id}.yaml`);
  const text = `rules: rules.yaml\ndata: ${id}\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { ${nats}, prefix: ${prefix} }\ncluster: { roles: [${roles}], node_id: ${id}, shards: 4, lease: 2s }\n`;
  writeFileSync(file, text);
  const n = await ClusterServe.start(parseConfig(text, file), { log: quiet });
  ctx.nodes.push(n);
  return n;
}

const record = (i: number, account = 'acct-1'): Record<string, unknown> => ({ id: `r${i}`, ts: T + i * 1000, account, called: '+4930123' });

async function counter (port: number, rule: string, key: string): Promise<number | undefined> {
  const reply = await request(port, 'GET', `/v1/counters/${rule}/${key}?at=${encodeURIComponent(new Date(T + 3_600_000).toISOString())}`);
  return reply.status === 200 ? reply.json.value as number : undefined;
}

test('records on <prefix>.in as JSON or MessagePack are acknowledged once JetStream holds them; rejects go to <prefix>.rejected', async (ctx) => {
  const n = await node(ctx, 'a', 'ing', 'coordinator, node, notifier');
  const names = clusterNames('ing');
  const jsm = await jetstreamManager(ctx.nc);
  const rejected: string[] = [];
  ctx.nc.subscribe(names.subjects.rejected, { callback: (err, msg) => { if (err === null) rejected.push(msg.string()); } });
  await ctx.nc.flush();

  const one = (await ctx.nc.request(names.subjects.in, JSON.stringify(record(0)), { timeout: 5000 })).json<{ accepted: number, rejected: number }>();
  assert.equal(one, { accepted: 1, rejected: 0, rejects: [] });
  assert.ok((await jsm.streams.info(names.shardStream)).state.messages >= 1, 'the record is in the shard stream when the reply comes');

  const array = (await ctx.nc.request(names.subjects.in, JSON.stringify([record(1), record(2)]), { timeout: 5000 })).json<{ accepted: number }>();
  assert.is(array.accepted, 2);
  const packed = (await ctx.nc.request(names.subjects.in, pack([record(3), { ...record(4), ts: 'yesterday' }, record(5)]), { timeout: 5000 })).json<{ accepted: number, rejected: number, rejects: Array<{ seq: number, reason: string }> }>();
  assert.equal([packed.accepted, packed.rejected, packed.rejects[0]?.seq], [2, 1, 2]);
  assert.match(packed.rejects[0]!.reason, /^record\.ts must be/);
  const garbage = (await ctx.nc.request(names.subjects.in, new Uint8Array([0x92, 0x01]), { timeout: 5000 })).json<{ rejected: number, rejects: Array<{ reason: string }> }>();
  assert.is(garbage.rejected, 1);
  assert.match(garbage.rejects[0]!.reason, /neither JSON nor MessagePack/);

  await waitFor(() => rejected.length === 2, 5000, 'two rejects on ing.rejected');
  const first = JSON.parse(rejected[0]!) as { reason: string, code: string, source: string, seq: number, raw: string };
  assert.equal([first.code, first.source, first.seq], ['VIGIL_INVALID_RECORD', 'nats:ing.in', 2]);
  assert.match(first.raw, /yesterday/);

  // Counted shortly after: five good records.
  await waitFor(async () => await counter(n.address.port, 'calls', 'acct-1') === 5, 10_000, 'calls of acct-1 = 5');
  await waitFor(async () => ((await request(n.address.port, 'GET', '/v1/alerts')).json.alerts as unknown[]).length === 1, 10_000, 'the busy alert');
});

test('records that come as <prefix>.in requests are counted in the record metrics as those POSTed are', async (ctx) => {
  const n = await node(ctx, 'm', 'met', 'coordinator');
  const names = clusterNames('met');
  const bad = { ...record(9), ts: 'yesterday' };
  const viaNats = (await ctx.nc.request(names.subjects.in, JSON.stringify([record(0), bad, record(1)]), { timeout: 5000 })).json<{ accepted: number, rejected: number }>();
  assert.equal([viaNats.accepted, viaNats.rejected], [2, 1]);
  const posted = await request(n.address.port, 'POST', '/v1/records', { body: [record(2), bad, record(3), record(4)].map((r) => JSON.stringify(r)).join('\n') + '\n' });
  assert.is(posted.status, 202, posted.text);
  assert.equal([posted.json.accepted, posted.json.rejected], [3, 1]);

  const e = parsePrometheus((await request(n.address.port, 'GET', '/metrics')).text);
  assert.is(sampleValue(e, 'vigil_records_received_total'), 7, '3 records by NATS and 4 by HTTP');
  assert.is(sampleValue(e, 'vigil_records_accepted_total'), 5);
  assert.is(sampleValue(e, 'vigil_records_rejected_total', { code: 'VIGIL_INVALID_RECORD' }), 2);
  assert.is(histogramValue(e, 'vigil_ingest_seconds')?.count, 2, 'one offer by NATS and one by HTTP');
});

test('coordinators share <prefix>.in as a queue group, and each record is counted once', async (ctx) => {
  const a = await node(ctx, 'q1', 'qg', 'coordinator, node, notifier');
  const b = await node(ctx, 'q2', 'qg', 'coordinator');
  const names = clusterNames('qg');
  const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => ctx.nc.request(names.subjects.in, JSON.stringify(record(i, `acct-${i % 3}`)), { timeout: 10_000 })));
  assert.is(replies.reduce((sum, r) => sum + r.json<{ accepted: number }>().accepted, 0), 60);
  const published = async (n: ClusterServe): Promise<number> => {
    const m = /vigil_coordinator_records_published (\d+)/.exec((await request(n.address.port, 'GET', '/metrics')).text);
    return Number(m?.[1] ?? 0);
  };
  const [pa, pb] = [await published(a), await published(b)];
  assert.ok(pa > 0 && pb > 0, `both coordinators took records (${pa} and ${pb})`);
  assert.is(pa + pb, 60);
  for (const account of ['acct-0', 'acct-1', 'acct-2']) {
    await waitFor(async () => await counter(b.address.port, 'calls', account) === 20, 10_000, `calls of ${account} = 20, asked of the coordinator-only node`);
  }
});

test('with NATS auth on, a node with the right password works and one with a wrong password is refused, the password unsaid', async (ctx) => {
  const secured = await startNatsServer({ jetstream: true, config: 'authorization { user: vigil, password: "s3cret-pass-word" }' });
  try {
    const n = await node(ctx, 'auth1', 'au', 'coordinator, node, notifier', `servers: ["${secured.url}"], user: vigil, password: s3cret-pass-word`);
    const post = await request(n.address.port, 'POST', '/v1/records', { body: [0, 1, 2].map((i) => JSON.stringify(record(i))).join('\n') + '\n' });
    assert.is(post.status, 202, post.text);
    await waitFor(async () => ((await request(n.address.port, 'GET', '/v1/alerts')).json.alerts as unknown[]).length === 1, 10_000, 'the alert through an authenticated NATS');
    try {
      await node(ctx, 'auth2', 'au', 'node', `servers: ["${secured.url}"], user: vigil, password: wrong-pass-word`);
      assert.unreachable('a wrong password must refuse the node');
    } catch (err) {
      assert.instance(err, Error);
      assert.match((err as Error).message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*Authorization Violation/i);
      assert.not.match((err as Error).message, /wrong-pass-word/);
    }
  } finally {
    for (const n of ctx.nodes.reverse()) await n.stop();
    ctx.nodes = [];
    await secured.stop();
  }
});

test.run();
