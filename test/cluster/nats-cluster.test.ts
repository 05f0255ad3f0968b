// The NATS test launchers themselves (test/helpers/nats-server.ts): a 3-server JetStream cluster
// forms on loopback and keeps an R3 stream through the crash of the stream's leader; a single
// JetStream server restarted on its port loses nothing. Starts real nats-server processes (2.9+).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { connect, jetstream, jetstreamManager, type JetStreamManager, type NatsConnection } from '../../workers/nats-client.js';
import { startNatsCluster, startNatsServer, type NatsCluster } from '../helpers/nats-server.js';
import { waitFor } from '../fixtures/receivers.js';

const WAIT_MS = 30_000;

/** Publishes `texts` in order; while a new leader is being elected a publish is tried again. */
async function publishAll (nc: NatsConnection, subject: string, texts: readonly string[]): Promise<void> {
  const js = jetstream(nc, { timeout: 2_000 });
  for (const text of texts) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      try {
        // msgID: a retry after a lost ack is dropped as a duplicate, not stored twice.
        await js.publish(subject, text, { msgID: `${subject}:${text}` });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}

async function readAll (jsm: JetStreamManager, stream: string, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let seq = 1; seq <= count; seq++) out.push((await jsm.streams.getMessage(stream, { seq }))?.string() ?? `<missing ${seq}>`);
  return out;
}

interface Ctx { cluster: NatsCluster, nc: NatsConnection }
const cluster = suite<Ctx>('helpers/nats-server: a 3-server JetStream cluster on loopback', {} as Ctx);

cluster.before(async (ctx) => {
  ctx.cluster = await startNatsCluster(3);
  ctx.nc = await connect({ servers: ctx.cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
});
cluster.after(async (ctx) => {
  await ctx.nc?.close();
  await ctx.cluster?.stop();
});

cluster('an R3 stream keeps every message through the crash and restart of its leader', async ({ cluster, nc }) => {
  assert.is(cluster.urls.length, 3);
  assert.equal(cluster.servers.map((s) => s.url), cluster.urls);
  const name = `T_${randomUUID().slice(0, 8)}`;
  const subject = `t.${name}`;
  const jsm = await jetstreamManager(nc, { timeout: 5_000 });
  const info = await jsm.streams.add({ name, subjects: [subject], num_replicas: 3 });
  assert.is(info.config.num_replicas, 3);
  assert.is(info.cluster?.replicas?.length, 2, 'a leader and two followers');

  const before = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
  await publishAll(nc, subject, before);
  const leader = (await jsm.streams.info(name)).cluster?.leader;
  const victim = cluster.servers.find((s) => s.name === leader);
  assert.ok(victim !== undefined, `the stream leader ${String(leader)} is one of ours`);
  victim.kill();

  const after = Array.from({ length: 10 }, (_, i) => `m${i + 11}`);
  await publishAll(nc, subject, after);
  const during = await jsm.streams.info(name);
  assert.is.not(during.cluster?.leader, leader, 'another server leads the stream');
  assert.is(during.state.messages, 20);

  await victim.restart();
  await waitFor(async () => {
    const peers = (await jsm.streams.info(name)).cluster;
    const all = [peers?.leader, ...(peers?.replicas ?? []).filter((p) => p.current && !p.offline).map((p) => p.name)];
    return all.includes(victim.name) && all.length === 3;
  }, WAIT_MS, `${victim.name} to rejoin the stream and catch up`);

  // Read through the restarted server alone: it is part of the cluster again.
  const only = await connect({ servers: victim.url, maxReconnectAttempts: 0 });
  try {
    assert.equal(await readAll(await jetstreamManager(only, { timeout: 5_000 }), name, 20), [...before, ...after]);
  } finally {
    await only.close();
  }
});

cluster.run();

const single = suite('helpers/nats-server: one JetStream server restarted on its port');

single('a restarted server keeps its port and its store: nothing published is lost', async () => {
  const server = await startNatsServer({ jetstream: true });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await publishAll(nc, 'keep.x', ['a', 'b', 'c']);
    const pid = server.process.pid;

    await server.restart();
    assert.is.not(server.process.pid, pid, 'a new process');
    assert.is(new URL(server.url).port, String(server.port));
    await publishAll(nc, 'keep.x', ['d']);
    assert.equal(await readAll(jsm, 'KEEP', 4), ['a', 'b', 'c', 'd']);
  } finally {
    await nc?.close();
    await server.stop();
  }
});

single.run();
