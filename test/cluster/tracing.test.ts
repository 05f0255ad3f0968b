// The trace of an alert through a cluster node in all three roles, in this process with an
// in-memory span exporter: a producer's span on `<prefix>.in` → the ingest batch → the JetStream
// publish of a shard message → the lane's consume → the shard actor's work (timed in its worker
// thread) → the alert's publish → the notifier's intake → the webhook delivery (timed in the
// notification thread). One trace, parent by parent, the merges as links. Real JetStream, real
// worker threads, a real HTTP receiver.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../../cluster/config.js';
import { ClusterServe } from '../../cluster/cluster-serve.js';
import { clusterNames } from '../../cluster/jetstream.js';
import { headers, connect, type NatsConnection } from '../../workers/nats-client.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { startHttpReceiver, waitFor, type HttpReceiver } from '../fixtures/receivers.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { busyRecords, writeBusyRules } from '../helpers/traced-alert.js';

interface Ctx { dir: string, nats: NatsServer, nc: NatsConnection, hook: HttpReceiver, exporter: InMemorySpanExporter, provider: BasicTracerProvider }
const test = suite<Ctx>('cluster: one trace from ingest to delivery', {} as Ctx);

test.before(async (ctx) => {
  ctx.exporter = new InMemorySpanExporter();
  ctx.provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(ctx.exporter)] });
  trace.setGlobalTracerProvider(ctx.provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  ctx.dir = tempDir();
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
  ctx.hook = await startHttpReceiver();
});

test.after(async (ctx) => {
  await ctx.nc.close();
  await ctx.hook.close();
  await ctx.nats.stop();
  await ctx.provider.shutdown();
  trace.disable();
  propagation.disable();
  removeDir(ctx.dir);
});

const byName = (spans: readonly ReadableSpan[], name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

test('a producer\'s trace continues through ingest, the shard stream, the actor thread, the alert and its delivery', async (ctx) => {
  writeBusyRules(ctx.dir, ctx.hook.url);
  const text = `rules: rules.yaml\ndata: data\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { servers: ["${ctx.nats.url}"], prefix: tr }\ncluster: { node_id: t1, shards: 2, lease: 2s }\n`;
  writeFileSync(join(ctx.dir, 'node.yaml'), text);
  const node = await ClusterServe.start(parseConfig(text, join(ctx.dir, 'node.yaml')), { log: () => undefined });
  try {
    const names = clusterNames('tr');
    const tracer = trace.getTracer('test-producer');
    const producer = tracer.startSpan('switch sends CDRs', { kind: SpanKind.PRODUCER });
    const h = headers();
    propagation.inject(trace.setSpan(context.active(), producer), h, { set: (c, k, v) => { c.set(k, v); } });
    const records = busyRecords();
    const reply = (await ctx.nc.request(names.subjects.in, JSON.stringify(records), { timeout: 5000, headers: h })).json<{ accepted: number }>();
    producer.end();
    assert.is(reply.accepted, 3);

    await waitFor(() => ctx.hook.requests.length > 0, 15_000, 'the webhook delivery');
    await waitFor(() => byName(ctx.exporter.getFinishedSpans(), 'deliver hook').length > 0, 10_000, 'the delivery span');

    const spans = ctx.exporter.getFinishedSpans();
    const one = (name: string): ReadableSpan => {
      const found = byName(spans, name);
      assert.is(found.length, 1, `one ${name} span, got ${found.length} (${spans.map((s) => s.name).join(', ')})`);
      return found[0]!;
    };
    const root = one('switch sends CDRs');
    const ingest = one('vigil.ingest');
    const send = one(`send ${names.subjects.shard(0)}`);
    const process = one(`process ${names.subjects.shard(0)}`);
    const apply = one('vigil.shard.apply');
    const alert = one(`send ${names.subjects.alerts}`);
    const intake = one(`process ${names.subjects.alerts}`);
    const deliver = one('deliver hook');

    const traceId = root.spanContext().traceId;
    for (const s of [ingest, send, process, apply, alert, intake, deliver]) assert.is(s.spanContext().traceId, traceId, `${s.name} is in the producer's trace`);
    assert.is(parentOf(ingest), root.spanContext().spanId, 'ingest continues the producer');
    assert.is(parentOf(send), ingest.spanContext().spanId, 'the shard message is published under the ingest batch');
    assert.is(parentOf(process), send.spanContext().spanId, 'the lane consumes under the publish (over NATS headers)');
    assert.equal(process.links.map((l) => l.context.spanId), [send.spanContext().spanId], 'and links to each message it merged');
    assert.is(parentOf(apply), process.spanContext().spanId, 'the actor thread\'s work under the consume');
    assert.is(parentOf(alert), apply.spanContext().spanId, 'the alert under the work that raised it');
    assert.is(parentOf(intake), alert.spanContext().spanId, 'the notifier takes it under the alert\'s publish');
    assert.is(parentOf(deliver), intake.spanContext().spanId, 'the delivery under the intake');

    assert.equal([send.kind, process.kind, alert.kind, intake.kind, deliver.kind], [SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.CLIENT]);
    assert.is(send.attributes['messaging.system'], 'nats');
    assert.is(send.attributes['messaging.destination.name'], names.subjects.shard(0));
    assert.is(send.attributes['vigil.records'], 3);
    assert.is(apply.attributes['vigil.records'], 3);
    assert.is(apply.attributes['vigil.alerts'], 1);
    assert.is(alert.attributes['vigil.alert.rule'], 'busy');
    assert.is(deliver.attributes['vigil.result'], 'delivered');
    assert.ok(apply.duration[0] > 0 || apply.duration[1] > 0, 'the actor\'s span has the thread\'s own duration');
    assert.ok(ingest.attributes['vigil.accepted'] === 3);
  } finally {
    await node.stop();
  }
});

test.run();
