// The cluster end to end: a three-server JetStream cluster and Vigil nodes as separate
// processes (`vigil serve --config`). One coordinator+notifier node takes the records over
// HTTP; node processes lease the shards. Mid-stream a node is SIGKILLed, a nats-server is
// killed and restarted, and a fourth node joins; at the end the alerts (each exactly once) and
// the counters equal the single-threaded core's on the same input.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRules } from '../../core/compile.js';
import { roundValue } from '../../core/alert.js';
import type { Alert } from '../../core/alert.js';
import { loadRules } from '../../cluster/rules-file.js';
import { clusterNames } from '../../cluster/jetstream.js';
import { connect, jetstreamManager, DeliverPolicy, jetstream } from '../../workers/nats-client.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { startServe, stopServe, request, postAll, type Running } from '../helpers/node.js';
import { runVigil } from '../helpers/cli.js';
import { trafficLines } from '../helpers/traffic.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { startCore, feed, alertText } from '../fixtures/core-run.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const SHARDS = 16;
const LEASE_MS = 2_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Ctx { nats: NatsCluster, dir: string, prefix: string, nodes: Map<string, Running> }
const test = suite<Ctx>('cluster: three nats-servers, Vigil nodes as processes', { nodes: new Map() } as unknown as Ctx);

test.before(async (ctx) => {
  ctx.nats = await startNatsCluster(3);
  ctx.dir = tempDir('vigil-cluster-');
  ctx.prefix = `t${process.pid}`;
  ctx.nodes = new Map();
});

test.after(async (ctx) => {
  for (const node of ctx.nodes.values()) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  await ctx.nats?.stop();
  removeDir(ctx.dir);
});

function config (ctx: Ctx, id: string, roles: readonly string[]): string {
  const file = join(ctx.dir, `${id}.yaml`);
  writeFileSync(file, [
    `rules: ${RULES}`,
    `data: ${join(ctx.dir, id)}`,
    'listen: 127.0.0.1:0',
    'threads: 1',
    'batch: { max_wait: 2ms }',
    `nats: { servers: [${ctx.nats.urls.join(', ')}], prefix: ${ctx.prefix} }`,
    `cluster: { roles: [${roles.join(', ')}], node_id: ${id}, shards: ${SHARDS}, lease: ${LEASE_MS / 1000}s, replicas: 3 }`,
  ].join('\n') + '\n');
  return file;
}

async function start (ctx: Ctx, id: string, roles: readonly string[]): Promise<Running> {
  const node = await startServe(config(ctx, id, roles));
  ctx.nodes.set(id, node);
  return node;
}

async function metrics (port: number): Promise<Map<string, number>> {
  const reply = await request(port, 'GET', '/metrics');
  const out = new Map<string, number>();
  for (const line of reply.text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m !== null) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function waitFor (what: string, ms: number, cond: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
  return Date.now() - started;
}

async function live (ctx: Ctx): Promise<Array<[string, Running]>> {
  return [...ctx.nodes].filter(([, n]) => n.child.exitCode === null && n.child.signalCode === null);
}

async function held (ctx: Ctx): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [id, node] of await live(ctx)) out.set(id, (await metrics(node.port)).get('vigil_shards_held') ?? 0);
  return out;
}

async function allAlerts (port: number): Promise<Alert[]> {
  const out: Alert[] = [];
  let after: string | null = null;
  do {
    const reply = await request(port, 'GET', `/v1/alerts?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`);
    out.push(...(reply.json.alerts as Alert[]));
    after = reply.json.next as string | null;
  } while (after !== null);
  return out;
}

test('records spread over nodes; a SIGKILLed node\'s shards move; a restarted nats-server and a joining node lose and double nothing', async (ctx) => {
  const lines = trafficLines({ seed: 11, records: 6000, start: Date.UTC(2026, 2, 2, 6) });
  const compiled = compileRules(loadRules(RULES));
  const core = feed(startCore(compiled), lines);
  const expected = core.alerts.map((a) => alertText(a.alert)).sort();
  assert.ok(expected.length > 50, `the traffic raises alerts (${expected.length})`);

  const front = await start(ctx, 'n1', ['coordinator', 'node', 'notifier']);
  await start(ctx, 'n2', ['node']);
  await start(ctx, 'n3', ['node']);
  await waitFor('the three nodes to hold every shard between them', 20_000, async () => {
    const h = await held(ctx);
    return [...h.values()].reduce((a, b) => a + b, 0) === SHARDS && [...h.values()].every((n) => n > 0);
  });

  const third = Math.floor(lines.length / 3);
  await postAll(front.port, lines.slice(0, third), 200);
  await waitFor('every node to apply records', 20_000, async () => {
    for (const [, node] of await live(ctx)) if (((await metrics(node.port)).get('vigil_node_records_applied') ?? 0) === 0) return false;
    return true;
  });

  // Mid-stream: SIGKILL n2 while records keep coming.
  const posting = postAll(front.port, lines.slice(third, 2 * third), 100);
  await sleep(300);
  ctx.nodes.get('n2')!.child.kill('SIGKILL');
  const killedAt = Date.now();
  await posting;
  const moved = await waitFor('n1 and n3 to take n2\'s shards', 6 * LEASE_MS, async () => {
    const h = await held(ctx);
    return (h.get('n1') ?? 0) + (h.get('n3') ?? 0) === SHARDS;
  });
  assert.ok(Date.now() - killedAt <= 6 * LEASE_MS, `shards moved within 3 leases (${moved} ms)`);
  if (process.env.VIGIL_TEST_VERBOSE !== undefined) console.log(`failover: shards held again ${Date.now() - killedAt} ms after the SIGKILL (lease ${LEASE_MS} ms)`);

  // A nats-server dies and comes back while records flow.
  ctx.nats.servers[1]!.kill();
  const rest = lines.slice(2 * third);
  const half = Math.floor(rest.length / 2);
  await postAll(front.port, rest.slice(0, half), 200);
  await ctx.nats.servers[1]!.restart();

  // A fourth node joins and takes its share (rebuilt from the stream: it has no state of its own).
  await start(ctx, 'n4', ['node']);
  const quarter = Math.floor(half / 2);
  await postAll(front.port, rest.slice(half, half + quarter), 200);
  await waitFor('n4 to hold shards', 20_000, async () => ((await held(ctx)).get('n4') ?? 0) > 0);
  // The killed node comes back on its data folder: its lanes resume from the positions it
  // committed before the kill and catch up from the stream.
  const back = await start(ctx, 'n2', ['node']);
  // It took over the lock the SIGKILL left on its folder, and a second n2 on it is refused.
  const lock = JSON.parse(readFileSync(join(ctx.dir, 'n2', 'vigil.lock'), 'utf8')) as { pid: number, command: string };
  assert.equal([lock.pid, lock.command], [back.child.pid, 'vigil serve, cluster node n2']);
  const twice = await runVigil(['serve', '--config', join(ctx.dir, 'n2.yaml')]);
  assert.is(twice.code, 1, twice.stderr);
  assert.match(twice.stderr, `vigil: the data folder ${join(ctx.dir, 'n2')} is in use by process ${back.child.pid} (vigil serve, cluster node n2, since `);
  await postAll(front.port, rest.slice(half + quarter), 200);
  await waitFor('n2 to hold shards again', 20_000, async () => ((await held(ctx)).get('n2') ?? 0) > 0);
  await waitFor('a lane of n2 to reopen at the position it committed before the kill', 20_000, async () => /"lane":\d+,"opened":[1-9]\d*/.test(back.stderr()));

  try {
    await waitFor('every alert to reach the notifier', 60_000, async () => (await allAlerts(front.port)).length >= expected.length);
  } catch (err) {
    // Say what is missing and what the nodes said, so a failure can be read from CI's log.
    const have = new Set((await allAlerts(front.port)).map(alertText));
    const missing = expected.filter((a) => !have.has(a));
    const said: string[] = [];
    for (const [id, n] of await live(ctx)) {
      const m = await metrics(n.port);
      said.push(`${id}: held ${m.get('vigil_shards_held')}, lag ${m.get('vigil_shard_lag_messages')}, applied ${m.get('vigil_node_records_applied')}; ${n.stderr().split('\n').filter((l) => /error|warn|failed|lost|stale|lane/i.test(l)).slice(-12).join('\n    ')}`);
    }
    throw new Error(`${(err as Error).message}; ${missing.length} of ${expected.length} missing, e.g. ${missing.slice(0, 3).join(' ')}\n  ${said.join('\n  ')}`);
  }
  await sleep(1_000); // a late copy would show now
  const got = await allAlerts(front.port);
  const ids = got.map((a) => a.id);
  assert.is(new Set(ids).size, ids.length, 'each alert exactly once in the history');
  assert.equal(got.map(alertText).sort(), expected, 'the alerts equal the single-threaded core\'s');

  // Each alert exactly once in the alerts stream too.
  const nc = await connect({ servers: ctx.nats.urls });
  try {
    const names = clusterNames(ctx.prefix);
    const info = await (await jetstreamManager(nc)).streams.info(names.alertStream);
    assert.is(info.state.messages, expected.length, 'the alerts stream holds every alert once');
    const consumer = await jetstream(nc).consumers.get(names.alertStream, { deliver_policy: DeliverPolicy.All });
    const seen = new Set<string>();
    const batch = await consumer.fetch({ max_messages: expected.length, expires: 5_000 });
    for await (const m of batch) seen.add((JSON.parse(m.string()) as Alert).id);
    assert.is(seen.size, expected.length);
  } finally {
    await nc.close();
  }

  // The counters, asked of the front node (the answer comes from whichever node holds the key),
  // once every shard is held and nothing waits in the stream.
  await waitFor('every shard held and no lag', 30_000, async () => {
    let heldAll = 0;
    for (const [, n] of await live(ctx)) {
      const m = await metrics(n.port);
      if ((m.get('vigil_shard_lag_messages') ?? 0) > 0) return false;
      heldAll += m.get('vigil_shards_held') ?? 0;
    }
    return heldAll === SHARDS;
  });
  const lastTs = core.ingest.watermark;
  const at = new Date(lastTs).toISOString();
  const probes: Array<[string, string]> = [];
  for (let a = 0; a < 12; a++) probes.push(['spend-day', `acct-${a}`], ['calls-hour', `acct-${a}`]);
  probes.push(['group-minutes', 'big'], ['trunk-sliding', 't1'], ['trunk-sliding', 't2'], ['country-avg', 'DE']);
  let compared = 0;
  for (const [rule, key] of probes) {
    const want = core.engine.counterValue(rule, key, lastTs);
    const ask = async (): Promise<Awaited<ReturnType<typeof request>>> => await request(front.port, 'GET', `/v1/counters/${rule}/${encodeURIComponent(key)}?at=${encodeURIComponent(at)}`);
    let reply = await ask();
    // A lane being reopened (a consumer that lost its server is opened again) answers nothing for a moment.
    for (let i = 0; i < 20 && reply.status === 404; i++) {
      if (want === undefined) break;
      await sleep(250);
      reply = await ask();
    }
    if (want === undefined) {
      assert.is(reply.status, 404, `${rule}/${key}: no counter in the core, none in the cluster`);
    } else {
      assert.is(reply.status, 200, `${rule}/${key}: ${reply.text}`);
      assert.is(reply.json.value, roundValue(want.value), `${rule}/${key}`);
      compared++;
    }
  }
  assert.ok(compared >= 10, `compared ${compared} counters with values`);

  for (const id of ['n4', 'n3', 'n2', 'n1']) await stopServe(ctx.nodes.get(id)!);
});

test.run();
