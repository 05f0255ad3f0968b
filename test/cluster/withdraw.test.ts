// A cluster node whose data folder refuses every commit withdraws (cluster/withdraw.ts): it
// stops its lanes, deletes its heartbeat, and its shards move to the nodes that can commit;
// after a backoff it rejoins, fails again and withdraws for twice as long. The counting first
// (a pure class), then two nodes in this process on a real JetStream nats-server: node b's
// lane actor is the real one on the real LMDB store, but every commit throws ENOSPC.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../cluster/config.js';
import { ClusterServe } from '../../cluster/cluster-serve.js';
import type { ServeOptions } from '../../cluster/serve.js';
import { clusterNames } from '../../cluster/jetstream.js';
import { STORE_FAILURES_TO_WITHDRAW, StoreFailures } from '../../cluster/withdraw.js';
import type { Alert } from '../../core/alert.js';
import { Kvm, connect, type NatsConnection } from '../../workers/nats-client.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { request } from '../helpers/node.js';
import { waitFor } from '../fixtures/receivers.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const counting = suite('cluster/withdraw: store failures in a row');

counting('withdraws at the bound, for a backoff that doubles up to the cap; a commit resets both', () => {
  const f = new StoreFailures({ bound: 3, baseMs: 1_000, capMs: 5_000 });
  assert.equal([f.failed(), f.failed()], [undefined, undefined]);
  assert.is(f.failed(), 1_000, 'the third failure in a row withdraws for the base');
  assert.is(f.count, 0, 'counting starts anew after a withdrawal');
  const next = (): number | undefined => { f.failed(); f.failed(); return f.failed(); };
  assert.equal([next(), next(), next(), next()], [2_000, 4_000, 5_000, 5_000], 'doubling up to the cap');
  f.failed();
  f.failed();
  f.succeeded();
  assert.is(f.count, 0);
  assert.equal([f.failed(), f.failed(), f.failed()], [undefined, undefined, 1_000], 'after a commit: three in a row again, and the base again');
});

counting('defaults: 3 in a row, 30 s doubling to 10 min', () => {
  const f = new StoreFailures();
  assert.is(STORE_FAILURES_TO_WITHDRAW, 3);
  assert.is(f.bound, 3);
  const next = (): number | undefined => { f.failed(); f.failed(); return f.failed(); };
  const seen = Array.from({ length: 7 }, next);
  assert.equal(seen, [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
});

counting.run();

const T = Date.parse('2026-11-21T10:00:00+01:00');
const RULES = `version: 1
rules:
  - { id: calls, by: account, measure: count, window: day, limit: 1000000 }
  - { id: busy, by: account, measure: count, window: day, limit: 2 }
`;
const ACCOUNTS = 16;
const PER_ACCOUNT = 5;
const WITHDRAW_MS = 1_000;

interface Ctx { dir: string, nats: NatsServer, nc: NatsConnection, nodes: ClusterServe[] }
const test = suite<Ctx>('cluster/withdraw: a node on a full disk', {} as Ctx);
test.before(async (ctx) => {
  ctx.dir = tempDir();
  writeFileSync(join(ctx.dir, 'rules.yaml'), RULES);
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
  ctx.nodes = [];
});
test.after(async (ctx) => {
  for (const n of ctx.nodes.reverse()) await n.stop();
  await ctx.nc.close();
  await ctx.nats.stop();
  removeDir(ctx.dir);
});

async function node (ctx: Ctx, id: string, roles: string, opts: ServeOptions): Promise<ClusterServe> {
  const file = join(ctx.dir, `${id}.yaml`);
  const text = `rules: rules.yaml\ndata: ${id}\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { servers: ["${ctx.nats.url}"], prefix: wd }\ncluster: { roles: [${roles}], node_id: ${id}, shards: 8, lease: 1s }\n`;
  writeFileSync(file, text);
  const n = await ClusterServe.start(parseConfig(text, file), opts);
  ctx.nodes.push(n);
  return n;
}

async function counter (port: number, key: string): Promise<number | undefined> {
  const reply = await request(port, 'GET', `/v1/counters/calls/${key}?at=${encodeURIComponent(new Date(T + 3_600_000).toISOString())}`);
  return reply.status === 200 ? reply.json.value as number : undefined;
}

test('a node whose commits all fail withdraws, its heartbeat goes, and the other node counts every record once', async (ctx) => {
  const events: Array<Record<string, unknown>> = [];
  const a = await node(ctx, 'a', 'coordinator, node, notifier', { log: () => undefined });
  const b = await node(ctx, 'b', 'node', { log: (e) => { events.push(e); }, withdrawMs: WITHDRAW_MS, laneWorkerFile: new URL('../fixtures/full-disk-lane.js', import.meta.url).href });
  await waitFor(() => b.held.length > 0, 10_000, 'b to hold shards');

  const names = clusterNames('wd');
  const records = [];
  for (let i = 0; i < PER_ACCOUNT; i++) for (let acct = 0; acct < ACCOUNTS; acct++) records.push({ id: `r${acct}-${i}`, ts: T + i * 1000, account: `acct-${acct}`, called: '+4930123' });
  const reply = (await ctx.nc.request(names.subjects.in, JSON.stringify(records), { timeout: 10_000 })).json<{ accepted: number }>();
  assert.is(reply.accepted, records.length);

  const withdrawals = (): Array<Record<string, unknown>> => events.filter((e) => typeof e.error === 'string' && e.error.startsWith('withdrawing from the cluster'));
  await waitFor(() => withdrawals().length > 0, 10_000, 'b to withdraw');
  const first = withdrawals()[0]!;
  assert.match(first.error as string, /^withdrawing from the cluster: commits to the data folder failed 3 times in a row \(ENOSPC: no space left on device\); its shards move to the other nodes; rejoining in 1 s$/);
  assert.ok(events.some((e) => typeof e.failed === 'string' && /a commit to the data folder failed \(ENOSPC: no space left on device\) for shard \d+/.test(e.failed)), 'the lanes\' failures name the store\'s error');

  // b is out: no lanes, no lag, no heartbeat in the lease bucket.
  const kv = await new Kvm(ctx.nc).open(names.leaseBucket);
  // By key, not kv.keys(): that listing can wait for ever when its last operation is a delete.
  const isLive = async (id: string): Promise<boolean> => (await kv.get(`node.${id}`))?.operation === 'PUT';
  await waitFor(async () => b.held.length === 0 && !(await isLive('b')) && await isLive('a'), 5_000, 'b\'s heartbeat to be gone and its lanes stopped');
  const metrics = (await request(b.address.port, 'GET', '/metrics')).text;
  assert.match(metrics, /^vigil_shards_held 0$/m);
  assert.match(metrics, /^vigil_shard_lag_messages 0$/m);
  assert.match(metrics, /^vigil_node_withdrawn 1$/m);

  // Every record counted by a, once: each account's count, and one busy alert per account.
  for (let acct = 0; acct < ACCOUNTS; acct++) {
    await waitFor(async () => await counter(a.address.port, `acct-${acct}`) === PER_ACCOUNT, 20_000, `calls of acct-${acct} = ${PER_ACCOUNT}`);
  }
  await waitFor(async () => ((await request(a.address.port, 'GET', '/v1/alerts?limit=1000')).json.alerts as Alert[]).length >= ACCOUNTS, 20_000, 'a busy alert per account');
  const alerts = (await request(a.address.port, 'GET', '/v1/alerts?limit=1000')).json.alerts as Alert[];
  assert.equal(alerts.map((x) => x.key).sort(), Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`).sort(), 'each account\'s alert exactly once');
  assert.is(a.held.length + b.held.length <= 8, true);

  // b rejoins after its backoff, fails again (the stream still holds records for its shards)
  // and withdraws for twice as long.
  await waitFor(() => withdrawals().length > 1, 10_000, 'b to rejoin and withdraw again');
  assert.ok(events.some((e) => typeof e.rejoining === 'string'), 'b said it rejoined');
  assert.match(withdrawals()[1]!.error as string, /rejoining in 2 s$/);
  // The counts stay right across the shards' moves back and forth.
  await waitFor(() => b.held.length === 0, 5_000, 'b withdrawn again');
  if (process.env.VIGIL_TEST_VERBOSE !== undefined) for (const e of events) console.log(JSON.stringify(e));
  for (let acct = 0; acct < ACCOUNTS; acct++) {
    await waitFor(async () => await counter(a.address.port, `acct-${acct}`) === PER_ACCOUNT, 20_000, `calls of acct-${acct} = ${PER_ACCOUNT} after the second withdrawal`);
  }
});

test.run();
