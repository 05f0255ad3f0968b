// One trace across processes and threads, as an SRE's collector receives it: a front process
// (coordinator + notifier) and a node process (node role), both exporting OTLP/HTTP to a
// loopback receiver. Records posted to the front become one trace: ingest and publish in the
// front, consume and the actor thread's work and the alert in the node, intake and delivery back
// in the front. Real nats-server, real processes, a real webhook receiver.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { startServe, stopServe, request, type Running } from '../helpers/node.js';
import { startHttpReceiver, waitFor, type HttpReceiver } from '../fixtures/receivers.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../fixtures/otlp-receiver.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { busyRecords, writeBusyRules } from '../helpers/traced-alert.js';

interface Ctx { dir: string, nats: NatsServer, otlp: OtlpReceiver, hook: HttpReceiver, nodes: Running[], delay: string | undefined }
const test = suite<Ctx>('cluster: one trace across processes, exported over OTLP', {} as Ctx);

test.before(async (ctx) => {
  ctx.dir = tempDir();
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.otlp = await startOtlpReceiver();
  ctx.hook = await startHttpReceiver();
  ctx.nodes = [];
  // The children inherit it: spans leave every 100 ms instead of every 5 s.
  ctx.delay = process.env.OTEL_BSP_SCHEDULE_DELAY;
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
});

test.after(async (ctx) => {
  for (const n of ctx.nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
  if (ctx.delay === undefined) delete process.env.OTEL_BSP_SCHEDULE_DELAY; else process.env.OTEL_BSP_SCHEDULE_DELAY = ctx.delay;
  await ctx.hook.close();
  await ctx.otlp.close();
  await ctx.nats.stop();
  removeDir(ctx.dir);
});

function config (ctx: Ctx, id: string, roles: string): string {
  const file = join(ctx.dir, `${id}.yaml`);
  writeFileSync(file, `rules: rules.yaml\ndata: ${id}\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { servers: ["${ctx.nats.url}"], prefix: tp }\ncluster: { roles: [${roles}], node_id: ${id}, shards: 2, lease: 2s }\ntelemetry: { endpoint: "${ctx.otlp.url}", metrics_interval: 1s }\n`);
  return file;
}

test('ingest (front) → publish → consume and the actor\'s work (node) → alert → intake and delivery (front), one trace', async (ctx) => {
  writeBusyRules(ctx.dir, ctx.hook.url);
  const front = await startServe(config(ctx, 'front', 'coordinator, notifier'));
  ctx.nodes.push(front);
  const node = await startServe(config(ctx, 'worker', 'node'));
  ctx.nodes.push(node);
  await waitFor(async () => /vigil_shards_held 2\b/.test((await request(node.port, 'GET', '/metrics')).text), 20_000, 'the node to hold both shards');

  const body = busyRecords().map((r) => JSON.stringify(r)).join('\n') + '\n';
  assert.is((await request(front.port, 'POST', '/v1/records', { body })).status, 202);
  await waitFor(() => ctx.hook.requests.length > 0, 20_000, 'the webhook delivery');

  const [deliver] = await ctx.otlp.waitForSpans((s) => s.name === 'deliver hook', 15_000);
  const trace = deliver!.traceId;
  const inTrace = (): ReceivedSpan[] => ctx.otlp.spans.filter((s) => s.traceId === trace);
  await waitFor(() => inTrace().length >= 7, 10_000, 'the whole trace');
  const spans = inTrace();
  const named = (prefix: string): ReceivedSpan => {
    const found = spans.filter((s) => s.name.startsWith(prefix));
    assert.is(found.length, 1, `one ${prefix} span in the trace, got ${found.map((s) => s.name).join(', ')}`);
    return found[0]!;
  };
  const ingest = named('vigil.ingest');
  const send = named('send tp.shard.');
  const consume = named('process tp.shard.');
  const apply = named('vigil.shard.apply');
  const alert = named('send tp.alerts');
  const intake = named('process tp.alerts');

  assert.is(ingest.parentSpanId, undefined, 'the HTTP batch starts the trace');
  const chain: Array<[ReceivedSpan, ReceivedSpan]> = [[send, ingest], [consume, send], [apply, consume], [alert, apply], [intake, alert], [deliver!, intake]];
  for (const [child, parent] of chain) assert.is(child.parentSpanId, parent.spanId, `${child.name} is the child of ${parent.name}`);
  const where = (s: ReceivedSpan): unknown => s.resource['service.instance.id'];
  assert.equal([ingest, send, intake, deliver!].map(where), ['front', 'front', 'front', 'front'], 'ingest, publish, intake and delivery run in the front process');
  assert.equal([consume, apply, alert].map(where), ['worker', 'worker', 'worker'], 'consume, the actor\'s work and the alert run in the node process');
  assert.is(consume.links[0]?.spanId, send.spanId, 'the consume links to the message it took');
  assert.is(apply.attributes['vigil.records'], 3);
  assert.is(deliver!.attributes['vigil.result'], 'delivered');

  // Metrics leave over OTLP too, from the same numbers as /metrics.
  await waitFor(() => ctx.otlp.metricValue('vigil_records_accepted_total') === 3, 10_000, 'records accepted = 3 over OTLP');

  for (const n of [node, front]) assert.is((await stopServe(n)).code, 0);
});

test.run();
