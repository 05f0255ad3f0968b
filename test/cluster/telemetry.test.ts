// cluster/telemetry and cluster/log against a real OTLP/HTTP receiver on loopback
// (test/fixtures/otlp-receiver.ts): spans made with trace.getTracer('vigil') arrive decoded with
// their resource; Metrics arrive with the values /metrics shows; the OTEL_* variables work the
// same as the file (in child processes: test/fixtures/telemetry-child.ts), OTEL_SDK_DISABLED
// wins; without an endpoint nothing is installed; pino lines carry the active span's ids; a
// real `vigil serve` exports the numbers its /metrics shows. Needs only the build. This process's own OTEL_* variables are cleared first: a developer's
// shell must not send these tests' spans anywhere.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, isSpanContextValid, propagation, trace, SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_TELEMETRY, defaultCluster } from '../../cluster/config.js';
import { HISTOGRAM_BUCKETS, Metrics } from '../../cluster/metrics.js';
import { startTelemetry, type Telemetry } from '../../cluster/telemetry.js';
import { createLog } from '../../cluster/log.js';
import type { Alert } from '../../core/alert.js';
import type { Reject } from '../../core/usage-record.js';
import { startOtlpReceiver, type OtlpReceiver } from '../fixtures/otlp-receiver.js';
import { freePort } from '../fixtures/receivers.js';
import { within, WAIT_MS, postAll, request, startServe, stopServe } from '../helpers/node.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { trafficLines } from '../helpers/traffic.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) delete process.env[key];

const CHILD = fileURLToPath(new URL('../fixtures/telemetry-child.js', import.meta.url));
const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));

interface Ctx { receiver: OtlpReceiver }

/** Shuts `t` down whatever the test did, so the next test starts with the API uninstalled. */
async function using<T> (t: Telemetry, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await t.shutdown();
  }
}

// ---------------------------------------------------------------------------------------------

const otlp = suite<Ctx>('cluster/telemetry: OTLP/HTTP to a receiver', {} as Ctx);
otlp.before(async (ctx) => { ctx.receiver = await startOtlpReceiver(); });
otlp.after(async (ctx) => { await ctx.receiver.close(); });

otlp('a span made with trace.getTracer("vigil") arrives decoded, with service.name and service.instance.id', async ({ receiver }) => {
  const t = await startTelemetry({ ...DEFAULT_TELEMETRY, endpoint: receiver.url, serviceName: 'vigil-test' }, undefined, { instanceId: 'node-a' });
  assert.ok(t.installed);
  assert.equal([t.plan.tracesUrl, t.plan.metricsUrl], [`${receiver.url}/v1/traces`, `${receiver.url}/v1/metrics`]);
  await using(t, async () => {
    const tracer = trace.getTracer('vigil');
    const carrier: Record<string, string> = {};
    const linked = tracer.startSpan('upstream');
    linked.end();
    await tracer.startActiveSpan('ingest batch', { kind: SpanKind.PRODUCER, attributes: { 'vigil.records': 12, 'messaging.system': 'nats' }, links: [{ context: linked.spanContext() }] }, async (parent) => {
      // W3C trace-context is the global propagator: this is what goes into NATS headers.
      propagation.inject(context.active(), carrier);
      await new Promise((resolve) => setTimeout(resolve, 1));
      tracer.startSpan('apply').end(); // the active context (AsyncLocalStorage) survives the await
      parent.end();
    });
    await t.flush();
    const [ingest] = await receiver.waitForSpans((s) => s.name === 'ingest batch', WAIT_MS);
    const [apply] = await receiver.waitForSpans((s) => s.name === 'apply', WAIT_MS);
    assert.ok(ingest !== undefined && apply !== undefined);
    assert.is(ingest.kind, SpanKind.PRODUCER);
    assert.is(ingest.scope, 'vigil');
    assert.equal(ingest.attributes, { 'vigil.records': 12, 'messaging.system': 'nats' });
    assert.is(ingest.resource['service.name'], 'vigil-test');
    assert.is(ingest.resource['service.instance.id'], 'node-a');
    assert.is(ingest.resource['telemetry.sdk.language'], 'nodejs');
    assert.is(ingest.parentSpanId, undefined);
    assert.equal(ingest.links.map((l) => [l.traceId, l.spanId]), [[linked.spanContext().traceId, linked.spanContext().spanId]]);
    assert.ok(ingest.endTimeUnixNano >= ingest.startTimeUnixNano);
    assert.is(apply.traceId, ingest.traceId);
    assert.is(apply.parentSpanId, ingest.spanId);
    assert.is(carrier.traceparent, `00-${ingest.traceId}-${ingest.spanId}-01`);
    assert.ok(receiver.requests.every((r) => r.contentType.startsWith('application/json') && r.status === 200), JSON.stringify(receiver.requests));
  });
  assert.not.ok(trace.getTracer('vigil').startSpan('after').isRecording(), 'shutdown uninstalls the SDK');
});

const alert = (rule: string, severity: string): Alert => ({ rule, severity } as unknown as Alert);
const reject = (code: string): Reject => ({ code } as unknown as Reject);

otlp('metrics arrive with the values Metrics holds: counters as sums, gauges, histograms with the same buckets', async ({ receiver }) => {
  const m = new Metrics();
  m.epoch(10, 8, [reject('VIGIL_INVALID_RECORD'), reject('VIGIL_LATE_RECORD')], [alert('spend-day', 'critical')]);
  let blocks = 5;
  m.beforeRead(() => { m.gauge('vigil_blocks', '', blocks); });
  const t = await startTelemetry({ ...DEFAULT_TELEMETRY, endpoint: receiver.url, serviceName: 'metrics-test' }, m, { instanceId: 'node-m' });
  await using(t, async () => {
    for (const s of [0.0002, 0.004, 0.004, 2, 90]) m.observe('vigil_epoch_seconds', 'Epoch commit time.', s, { role: 'node' });
    await t.flush();
    await receiver.waitForMetric('vigil_records_received_total', (p) => p.resource['service.name'] === 'metrics-test', WAIT_MS);
    for (const f of m.snapshot()) {
      if (f.type === 'histogram') {
        const [point] = receiver.metricPoints(f.name);
        assert.ok(point?.histogram !== undefined, f.name);
        assert.equal(point.histogram.bounds, HISTOGRAM_BUCKETS);
        assert.equal(point.histogram.counts, f.samples[0]!.counts, 'the same observations in the same buckets');
        assert.is(point.histogram.count, 5);
        assert.is(point.histogram.sum, f.samples[0]!.sum);
        assert.is(point.unit, 's');
        continue;
      }
      for (const s of f.samples) {
        const [point] = receiver.metricPoints(f.name).filter((p) => JSON.stringify(p.labels) === JSON.stringify(s.labels));
        assert.ok(point !== undefined, `${f.name}${JSON.stringify(s.labels)} was exported`);
        assert.is(point.value, s.value, f.name);
        assert.is(point.kind, f.type === 'counter' ? 'sum' : 'gauge', f.name);
        if (f.type === 'counter') assert.ok(point.monotonic, f.name);
        assert.is(point.description, f.help);
        assert.is(point.resource['service.instance.id'], 'node-m');
      }
    }
    assert.is(receiver.metricValue('vigil_records_rejected_total', { code: 'VIGIL_LATE_RECORD' }), 1);
    assert.is(receiver.metricValue('vigil_blocks'), 5);

    // Counted on: the next export shows the new totals, a family defined since, a new gauge value.
    m.epoch(4, 4, [], []);
    m.count('vigil_lane_retries_total', 'Retries.', 2, { shard: '7' });
    blocks = 6;
    await t.flush();
    await t.flush();
    assert.is(receiver.metricValue('vigil_records_received_total'), 14);
    assert.is(receiver.metricValue('vigil_lane_retries_total', { shard: '7' }), 2);
    assert.is(receiver.metricValue('vigil_blocks'), 6);
  });
});

otlp('one telemetry at a time: a second start is refused and the first keeps working', async ({ receiver }) => {
  const exporter = new InMemorySpanExporter();
  const t = await startTelemetry(DEFAULT_TELEMETRY, undefined, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  await using(t, async () => {
    try {
      await startTelemetry({ ...DEFAULT_TELEMETRY, endpoint: receiver.url });
      assert.unreachable();
    } catch (err) {
      assert.is((err as Error).message, 'cannot install OpenTelemetry: a global context manager is already registered in this process (shut the running telemetry down first)');
    }
    trace.getTracer('vigil').startSpan('still').end();
    assert.equal(exporter.getFinishedSpans().map((s) => s.name), ['still']);
  });
  // And after a shutdown, a new one installs.
  const again = await startTelemetry({ ...DEFAULT_TELEMETRY, endpoint: receiver.url });
  await using(again, async () => { assert.ok(trace.getTracer('vigil').startSpan('x').isRecording()); });
});

otlp('an export the receiver refuses is logged as a telemetry error, and the node goes on', async ({ receiver }) => {
  const events: Array<Record<string, unknown>> = [];
  const t = await startTelemetry({ ...DEFAULT_TELEMETRY, endpoint: receiver.url }, new Metrics(), { log: (e) => { events.push(e); } });
  await using(t, async () => {
    receiver.failWith = 400;
    // A failed span export rejects the flush that forced it; a failed metrics export (like
    // any export on the SDK's own timers) goes to the SDK's error handler, hence the log.
    await t.flush().catch(() => undefined);
    receiver.failWith = undefined;
    assert.ok(events.some((e) => typeof e.error === 'string' && e.error.startsWith('telemetry: ')), JSON.stringify(events));
    trace.getTracer('vigil').startSpan('accepted').end();
    await t.flush();
    await receiver.waitForSpans((s) => s.name === 'accepted', WAIT_MS);
  });
});

// ---------------------------------------------------------------------------------------------

const local = suite('cluster/telemetry: no endpoint, and the log');

local('without an endpoint nothing is installed: the tracer is the no-op one and nothing is propagated', async () => {
  const t = await startTelemetry(DEFAULT_TELEMETRY, new Metrics());
  assert.is(t.installed, false);
  const span = trace.getTracer('vigil').startSpan('nothing');
  assert.is(span.isRecording(), false);
  assert.is(isSpanContextValid(span.spanContext()), false);
  span.end();
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  assert.equal(carrier, {});
  await t.flush();
  await t.shutdown();
});

local('a pino line carries trace_id and span_id inside an active span, and neither outside', async () => {
  const exporter = new InMemorySpanExporter();
  const t = await startTelemetry(DEFAULT_TELEMETRY, undefined, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  assert.ok(t.installed, 'a test span processor installs the SDK without an endpoint');
  const lines: string[] = [];
  const log = createLog({ destination: { write: (line: string) => { lines.push(line); } } });
  const span = await using(t, async () => {
    log({ ready: '127.0.0.1:7800', epoch: 3 });
    await trace.getTracer('vigil').startActiveSpan('work', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      log({ applied: 5 });
      span.end();
    });
    log({ error: 'engine failure: boom' });
    log({ warning: 'lane 3 is behind' });
    return exporter.getFinishedSpans()[0]; // the exporter forgets its spans when shut down
  });
  assert.ok(span !== undefined);
  assert.is(lines.length, 4);
  assert.ok(lines.every((l) => l.endsWith('}\n')), 'one JSON line each');
  const [ready, applied, failure, warning] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.match(lines[0]!, /^\{"level":"info","time":"\d{4}-\d\d-\d\dT[\d:.]+Z","ready":"127\.0\.0\.1:7800","epoch":3\}\n$/);
  assert.equal({ ...ready, time: 0 }, { level: 'info', time: 0, ready: '127.0.0.1:7800', epoch: 3 });
  assert.equal({ ...applied, time: 0 }, { level: 'info', time: 0, trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, trace_flags: '01', applied: 5 });
  assert.equal({ ...failure, time: 0 }, { level: 'error', time: 0, error: 'engine failure: boom' });
  assert.equal({ ...warning, time: 0 }, { level: 'warn', time: 0, warning: 'lane 3 is behind' });
});

// ---------------------------------------------------------------------------------------------

const env = suite<Ctx>('cluster/telemetry: the OTEL_* variables, in child processes', {} as Ctx);
env.before(async (ctx) => { ctx.receiver = await startOtlpReceiver(); });
env.after(async (ctx) => { await ctx.receiver.close(); });

/** Runs the child with `settings` and extra environment; its one stdout line, parsed. */
async function child (settings: object, vars: Record<string, string>): Promise<{ installed: boolean, plan: Record<string, unknown>, traceparent: string | null }> {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...vars } });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await within(WAIT_MS, 'the telemetry child to exit', new Promise<number | null>((resolve) => { proc.on('close', resolve); }));
  assert.is(code, 0, err);
  return JSON.parse(out) as { installed: boolean, plan: Record<string, unknown>, traceparent: string | null };
}

env('OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME work as the file\'s keys do', async ({ receiver }) => {
  const out = await child({}, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'from-env' });
  assert.ok(out.installed);
  const [span] = await receiver.waitForSpans((s) => s.name === 'child-work' && s.resource['service.name'] === 'from-env', WAIT_MS);
  assert.is(span!.resource['service.instance.id'], 'child-1');
  assert.is(out.traceparent, `00-${span!.traceId}-${span!.spanId}-01`);
  const point = await receiver.waitForMetric('vigil_records_received_total', (p) => p.resource['service.name'] === 'from-env', WAIT_MS);
  assert.is(point.value, 3, 'shutdown exported the last metrics');
});

env('the file\'s endpoint wins over OTEL_EXPORTER_OTLP_ENDPOINT; OTEL_SDK_DISABLED=true wins over both', async ({ receiver }) => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const out = await child({ endpoint: receiver.url, serviceName: 'from-file' }, { OTEL_EXPORTER_OTLP_ENDPOINT: nowhere, OTEL_SERVICE_NAME: 'from-env' });
  assert.equal([out.plan.tracesUrl, out.plan.serviceName], [`${receiver.url}/v1/traces`, 'from-file']);
  await receiver.waitForSpans((s) => s.name === 'child-work' && s.resource['service.name'] === 'from-file', WAIT_MS);

  const before = receiver.requests.length;
  const disabled = await child({ endpoint: receiver.url }, { OTEL_SDK_DISABLED: 'true' });
  assert.is(disabled.installed, false);
  assert.is(disabled.traceparent, null);
  assert.is(receiver.requests.length, before, 'the child exited without sending anything');
});

// ---------------------------------------------------------------------------------------------

const serve = suite<Ctx & { dir: string }>('cluster/serve: a node with telemetry: exports what /metrics shows', {} as Ctx & { dir: string });
serve.before(async (ctx) => { ctx.receiver = await startOtlpReceiver(); ctx.dir = tempDir(); });
serve.after(async (ctx) => { await ctx.receiver.close(); removeDir(ctx.dir); });

serve('the OTLP counters equal /metrics after a POST, and the stop exports the last figures', async ({ receiver, dir }) => {
  const config = join(dir, 'node.yaml');
  writeFileSync(config, `rules: ${RULES}\ndata: data\nlisten: 127.0.0.1:0\nthreads: 1\ntelemetry: { endpoint: "${receiver.url}", service_name: vigil-serve, metrics_interval: 1s }\n`);
  const node = await startServe(config);
  let stopped = false;
  try {
    assert.match(node.stderr(), `"telemetry":"vigil-serve","traces":"${receiver.url}/v1/traces","metrics":"${receiver.url}/v1/metrics"}`);
    const lines = trafficLines({ seed: 3, records: 600, start: Date.UTC(2026, 2, 27, 20), badEvery: 101 });
    const sent = await postAll(node.port, lines, 200);
    const shown = parsePrometheus((await request(node.port, 'GET', '/metrics')).text);
    assert.is(sampleValue(shown, 'vigil_records_received_total'), lines.length);
    assert.is(sampleValue(shown, 'vigil_records_accepted_total'), sent.accepted);
    const received = await receiver.waitForMetric('vigil_records_received_total', (p) => p.value === lines.length, WAIT_MS);
    assert.is(received.resource['service.name'], 'vigil-serve');
    assert.is(received.resource['service.instance.id'], defaultCluster({ host: '127.0.0.1', port: 0 }).nodeId, 'the node id');
    await receiver.waitForMetric('vigil_ready', (p) => p.value === 1, WAIT_MS);
    for (const s of shown.samples) {
      if (s.name === 'vigil_ready' || s.name === 'vigil_blocks') continue;
      const p = await receiver.waitForMetric(s.name, (x) => JSON.stringify(x.labels) === JSON.stringify(s.labels) && x.value === s.value, WAIT_MS);
      assert.is(p.value, s.value, s.name);
    }
    const result = await stopServe(node);
    stopped = true;
    assert.is(result.code, 0, result.stderr);
    assert.is(receiver.metricValue('vigil_ready'), 0, 'the last export, made while stopping, says not ready');
    assert.not.match(result.stderr, '"level":"error"');
  } finally {
    if (!stopped) await stopServe(node);
  }
});

otlp.run();
local.run();
env.run();
serve.run();
