/**
 * tracing: cluster mode with OpenTelemetry tracing off and on, in the same run, on the same
 * machine (issue: telemetry; goal: throughput with tracing on, at the default sampling, within
 * 5 % of tracing off).
 *
 * Topology of every sample (as cluster.bench's "cluster, 1 node", except that the coordinator
 * runs in its own `vigil serve` process so that its spans are made and exported by the real
 * SDK set-up, one per process): a private JetStream nats-server; one `vigil serve --config`
 * process in the coordinator role; one in the node role (threads 1, 64 shards). Every sample
 * has its own stream prefix, data folders and both processes, started before the timer (the
 * node holds all its shards). Two cases, interleaved round by round, the order alternating
 * (off, on / on, off / …) so that neither always runs on the warmer machine:
 *   - tracing off: no `telemetry:` block, and the children get an explicit environment with
 *     every OTEL_* variable removed: no SDK is installed (the API is a no-op);
 *   - tracing on: `telemetry: { endpoint: <receiver> }` in both processes' configs, nothing
 *     else: default sampling (parent-based always-on), batch span processor, OTLP/HTTP JSON;
 *     metrics are exported too (every 60 s, the default: in practice once, at shutdown), as a
 *     configured endpoint does.
 * The receiver is a minimal loopback HTTP server in this process (not
 * test/fixtures/otlp-receiver.ts, which decodes every span into objects on the same two
 * cores): it reads each body, counts the spans in it by name with one regular-expression scan
 * of the JSON text and answers 200 `{}`. Each on-sample checks that both processes said they
 * export (their `{"telemetry":…}` log line; an off-sample checks that neither did), then,
 * after both processes have stopped (shutdown flushes the last spans), that the receiver got
 * spans, compared with what the pipeline should have made: one `vigil.ingest` per request,
 * one `send <prefix>.shard.N` per shard message (the stream's message count), one
 * `process <prefix>.shard.N` and one `vigil.shard.apply` per lane apply (the node's
 * `vigil_apply_seconds_count`), one `send <prefix>.alerts` per alert.
 *
 * Timed: the records (demo traffic, JSON lines) are sent as NATS requests to `<prefix>.in`,
 * 1000 lines per request (bodies built before the timer), with --window requests in flight (a
 * coordinator answers once JetStream holds a request's records); the timer runs from the
 * first request to the node's `vigil_node_records_applied` (GET /metrics, polled every 50 ms)
 * reaching the coordinator's `vigil_coordinator_records_published` (read once every request
 * is answered). Records/s = input records / that time. CPU seconds per input record per
 * process from /proc (this process: the requests, the polling and, in the on case, the
 * receiver; nats-server; the coordinator; the node and, of that, its main thread).
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js tracing
 *      (or: node --expose-gc dist/bench/tracing.bench.js [--samples 3] [--warmup 1]
 *       [--budget 240] [--records 100000] [--shards 64] [--window 8]: --records caps the demo
 *       traffic; --budget SECONDS stops new rounds after that long, but not before 2 rounds)
 * Needs: the build (bin/vigil.js runs dist/), nats-server 2.9+ on the PATH or in /usr/sbin
 * (a private one on a random loopback port, store in a temp folder). Every process it starts
 * is stopped at the end, also on failure. Traffic: examples/dataset.ts, seed 42; rules:
 * examples/rules.yaml; leases of 3 s as in cluster.bench.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cleanUpOnExit, killServes, metric, ownCpuSeconds, procCpuSeconds, startClusterProc, stopServe, type ServeProc } from './serve-procs.js';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import { connect, jetstreamManager, type JetStreamManager, type NatsConnection } from '../workers/nats-client.js';
import { startNatsServer, type NatsServer } from '../test/helpers/nats-server.js';
import type { CaseResult } from './harness.js';
import { caseResult, intArg, machine, median, report, sink } from './harness.js';
import { loadRules } from './rules.js';
import { withStreams } from './cluster-streams.js';

const RULES = fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url));
/** the goal: |1 - on / off| below this */
const GOAL = 0.05;
const SHARDS = intArg('shards', 64);
const LEASE_MS = 3_000;
/** records per request to `<prefix>.in` */
const CHUNK = 1000;
/** requests in flight */
const WINDOW = Math.max(1, intArg('window', 8));
const POLL_MS = 50;
const STARTUP_MS = 60_000;
const DRAIN_MS = 300_000;
const REQUEST_MS = 120_000;

const gc = (globalThis as { gc?: () => void }).gc;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- processes (bench/serve-procs.ts tracks them and stops them, also on failure)

/** The environment of the children: this one without any OTEL_* variable (the config decides alone). */
function childEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toUpperCase().startsWith('OTEL_')));
}

interface Ctx {
  readonly nats: NatsServer;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly dir: string;
  readonly receiver: Receiver;
}

/** Starts `vigil serve --config` in `role` and resolves with its API port once it says it is ready. */
async function startRole (ctx: Ctx, dir: string, prefix: string, id: string, role: 'coordinator' | 'node', endpoint: string | undefined): Promise<ServeProc> {
  return await startClusterProc({ id, dir, rules: RULES, natsUrl: ctx.nats.url, prefix, roles: [role], shards: SHARDS, leaseMs: LEASE_MS, env: childEnv(), ...(endpoint === undefined ? {} : { telemetry: endpoint }) });
}

async function waitHeld (node: ServeProc): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    const held = await metric(node, 'vigil_shards_held');
    if (held === SHARDS) return;
    if (Date.now() > deadline) throw new Error(`node ${node.id} holds ${held} shards, not ${SHARDS}, after ${STARTUP_MS} ms`);
    await sleep(POLL_MS);
  }
}

async function waitApplied (node: ServeProc, coordinator: ServeProc, published: number): Promise<void> {
  const deadline = Date.now() + DRAIN_MS;
  let applied = 0;
  while ((applied = await metric(node, 'vigil_node_records_applied')) < published) {
    if (Date.now() > deadline) throw new Error(`the node applied ${applied} of ${published} published records within ${DRAIN_MS} ms`);
    for (const p of [node, coordinator]) if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${p.id} exited during the run`);
    await sleep(POLL_MS);
  }
}

// ---- the OTLP receiver: counts spans by name, decodes nothing else

interface SpanCounts {
  ingest: number;
  sendShard: number;
  processShard: number;
  apply: number;
  sendAlert: number;
  /** any other span (or event) name */
  other: number;
  traceRequests: number;
  metricRequests: number;
  /** body bytes received on /v1/traces (as sent: compressed if it was) */
  traceBytes: number;
}

const zeroCounts = (): SpanCounts => ({ ingest: 0, sendShard: 0, processShard: 0, apply: 0, sendAlert: 0, other: 0, traceRequests: 0, metricRequests: 0, traceBytes: 0 });
const spanTotal = (c: SpanCounts): number => c.ingest + c.sendShard + c.processShard + c.apply + c.sendAlert + c.other;

function diffCounts (a: SpanCounts, b: SpanCounts): SpanCounts {
  const out = zeroCounts();
  for (const k of Object.keys(out) as Array<keyof SpanCounts>) out[k] = a[k] - b[k];
  return out;
}

interface Receiver {
  readonly url: string;
  readonly counts: SpanCounts;
  close (): Promise<void>;
}

/**
 * `"name":"…"` in an OTLP/JSON export: span names, the instrumentation scope's (`vigil`) and
 * event names. Span names are the only ones starting `vigil.`, `send ` or `process `.
 */
const NAME = /"name":"([^"]*)"/g;

function countSpans (text: string, c: SpanCounts): void {
  for (const m of text.matchAll(NAME)) {
    const name = m[1]!;
    if (name === 'vigil') continue;
    if (name === 'vigil.ingest') c.ingest++;
    else if (name === 'vigil.shard.apply') c.apply++;
    else if (name.startsWith('send ') && name.endsWith('.alerts')) c.sendAlert++;
    else if (name.startsWith('send ') && /\.shard\.\d+$/.test(name)) c.sendShard++;
    else if (name.startsWith('process ') && /\.shard\.\d+$/.test(name)) c.processShard++;
    else c.other++;
  }
}

async function startReceiver (): Promise<Receiver> {
  const counts = zeroCounts();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/v1/traces') {
        const raw = Buffer.concat(chunks);
        counts.traceRequests++;
        counts.traceBytes += raw.length;
        countSpans((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'), counts);
      } else if (req.method === 'POST' && path === '/v1/metrics') {
        counts.metricRequests++;
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { resolve(); });
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}

// ---- CPU time per process (Linux /proc; zeros elsewhere)

interface Cpu { bench: number, nats: number, coordinator: number, node: number, nodeMain: number }

function cpuNow (ctx: Ctx, coordinator: ServeProc, node: ServeProc): Cpu {
  return {
    bench: ownCpuSeconds(),
    nats: procCpuSeconds(ctx.nats.process.pid),
    coordinator: procCpuSeconds(coordinator.child.pid),
    node: procCpuSeconds(node.child.pid),
    nodeMain: procCpuSeconds(node.child.pid, true),
  };
}

function cpuSince (from: Cpu, now: Cpu): Cpu {
  return { bench: now.bench - from.bench, nats: now.nats - from.nats, coordinator: now.coordinator - from.coordinator, node: now.node - from.node, nodeMain: now.nodeMain - from.nodeMain };
}

// ---- cases

interface Sample {
  readonly round: number;
  readonly records: number;
  readonly ns: number;
  readonly cpu: Cpu;
  readonly accepted: number;
  readonly rejected: number;
  /** records published (once per shard a record went to) */
  readonly published: number;
  readonly requests: number;
  /** shard messages in the stream */
  readonly messages: number;
  /** the node's lane applies (vigil_apply_seconds_count) */
  readonly applies: number;
  /** spans the receiver got from the start of the sample's processes to their exit */
  readonly spans: SpanCounts;
}

interface Case {
  readonly name: string;
  readonly tracing: boolean;
}

const TELEMETRY_LINE = /"telemetry":"[^"]*","traces":"http:\/\/127\.0\.0\.1:\d+\/v1\/traces"/;

/**
 * The requests' bodies: CHUNK lines each, as JSON lines (a bad line becomes one reject, and
 * a record's text is its line, as `vigil replay` and cluster.bench read them; a JSON array
 * would be refused whole for one bad line).
 */
function requestBodies (lines: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < lines.length; i += CHUNK) {
    const chunk = lines.slice(i, i + CHUNK);
    // `<prefix>.in` takes a body as JSON only when it starts with { or [ (else MessagePack).
    if (!chunk[0]!.trimStart().startsWith('{')) throw new Error(`line ${i + 1} does not start with {: its request would not be read as JSON lines`);
    out.push(Buffer.from(chunk.join('\n')));
  }
  return out;
}

async function runSample (ctx: Ctx, c: Case, lines: readonly string[], bodies: readonly Buffer[], round: number): Promise<Sample> {
  return await withStreams(ctx, 'trace', LEASE_MS, async (prefix, names) => {
    const dir = mkdtempSync(join(ctx.dir, c.tracing ? 'on-' : 'off-'));
    const endpoint = c.tracing ? ctx.receiver.url : undefined;
    const spans0 = { ...ctx.receiver.counts };
    const started = await Promise.allSettled([
      startRole(ctx, dir, prefix, 'c1', 'coordinator', endpoint),
      startRole(ctx, dir, prefix, 'n1', 'node', endpoint),
    ]);
    const procs = started.flatMap((s) => s.status === 'fulfilled' ? [s.value] : []);
    let measured: Omit<Sample, 'spans' | 'messages'>;
    try {
      const failed = started.find((s) => s.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const [coordinator, node] = procs as [ServeProc, ServeProc];
      for (const p of procs) {
        const says = TELEMETRY_LINE.test(p.log());
        if (says !== c.tracing) throw new Error(`${p.id} ${says ? 'exports telemetry' : 'does not say it exports telemetry'} in the "${c.name}" case; it logged:\n${p.log().trim().split('\n').slice(-10).join('\n')}`);
      }
      await waitHeld(node);
      gc?.();
      const cpu0 = cpuNow(ctx, coordinator, node);
      const t0 = process.hrtime.bigint();
      let next = 0;
      let accepted = 0;
      let rejected = 0;
      const sender = async (): Promise<void> => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const reply = await ctx.nc.request(names.subjects.in, body, { timeout: REQUEST_MS });
          const r = JSON.parse(reply.string()) as { accepted?: number, rejected?: number, error?: string };
          if (typeof r.accepted !== 'number') throw new Error(`the coordinator answered ${reply.string().slice(0, 300)}`);
          accepted += r.accepted;
          rejected += r.rejected ?? 0;
        }
      };
      await Promise.all(Array.from({ length: Math.min(WINDOW, bodies.length) }, sender));
      const published = await metric(coordinator, 'vigil_coordinator_records_published');
      await waitApplied(node, coordinator, published);
      const ns = Number(process.hrtime.bigint() - t0);
      const cpu = cpuSince(cpu0, cpuNow(ctx, coordinator, node));
      if (accepted + rejected !== lines.length) throw new Error(`the coordinator answered for ${accepted} + ${rejected} records, ${lines.length} were sent`);
      const applies = await metric(node, 'vigil_apply_seconds_count');
      measured = { round, records: lines.length, ns, cpu, accepted, rejected, published, requests: bodies.length, applies };
    } finally {
      // Coordinator first (producers first, as a deployment stops), then the node; each exports its last spans as it stops.
      for (const p of procs) await stopServe(p);
      rmSync(dir, { recursive: true, force: true });
    }
    const messages = (await ctx.jsm.streams.info(names.shardStream)).state.messages;
    const spans = diffCounts(ctx.receiver.counts, spans0);
    if (c.tracing && spanTotal(spans) === 0) throw new Error('tracing on, but the receiver got no span');
    if (!c.tracing && (spanTotal(spans) > 0 || spans.metricRequests > 0)) throw new Error(`tracing off, but the receiver got ${spanTotal(spans)} spans and ${spans.metricRequests} metric exports`);
    sink.value += measured.published;
    return { ...measured, messages, spans };
  });
}

// ---- rounds

const r2 = (v: number): number => Math.round(v * 100) / 100;
const rate = (s: Sample): number => s.records / (s.ns / 1e9);

/** Expected spans of an on-sample: one per request, shard message, apply (two: consume and the actor's work) and alert. */
function expectedSpans (s: Sample): number {
  return s.requests + s.messages + 2 * s.applies + s.spans.sendAlert;
}

interface CaseStats extends CaseResult {
  readonly cpuUsPerRecord: Cpu & { total: number };
}

function stats (c: Case, got: readonly Sample[]): CaseStats {
  const per = (f: (x: Sample) => number): number => r2(median(got.map((x) => f(x) / x.records * 1e6)));
  return {
    ...caseResult(c.name, got.map((x) => x.ns / x.records)),
    cpuUsPerRecord: {
      bench: per((x) => x.cpu.bench),
      nats: per((x) => x.cpu.nats),
      coordinator: per((x) => x.cpu.coordinator),
      node: per((x) => x.cpu.node),
      nodeMain: per((x) => x.cpu.nodeMain),
      total: per((x) => x.cpu.bench + x.cpu.nats + x.cpu.coordinator + x.cpu.node),
    },
  };
}

// ---- main

async function main (): Promise<void> {
  const samples = Math.max(1, intArg('samples', 3));
  const warmup = intArg('warmup', 1);
  const budgetMs = intArg('budget', 240) * 1000;
  const cap = intArg('records', 100_000);
  const compiled = loadRules(RULES);
  const load0 = loadavg();
  const m = machine();
  process.stderr.write(`tracing bench: ${m.cpu}, ${m.cores} cores, node ${m.node}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-tracing-'));
  cleanUpOnExit(undefined, dir);
  let nc: NatsConnection | undefined;
  let receiver: Receiver | undefined;
  let natsServer: NatsServer | undefined;
  try {
    natsServer = await startNatsServer({ jetstream: true });
    cleanUpOnExit(natsServer.process);
    receiver = await startReceiver();
    nc = await connect({ servers: natsServer.url, name: 'vigil-bench-tracing' });
    const ctx: Ctx = { nats: natsServer, nc, jsm: await jetstreamManager(nc), dir, receiver };

    const traffic = generateTraffic(DEFAULTS);
    const lines = traffic.lines.slice(0, cap);
    const bodies = requestBodies(lines);
    const warmLines = lines.slice(0, Math.ceil(lines.length / 6));
    const warmBodies = requestBodies(warmLines);
    const cases: Case[] = [{ name: 'tracing off', tracing: false }, { name: 'tracing on', tracing: true }];

    for (let i = 0; i < warmup; i++) for (const c of cases) await runSample(ctx, c, warmLines, warmBodies, 0);
    const got = cases.map(() => [] as Sample[]);
    const t0 = performance.now();
    for (let s = 0; s < samples; s++) {
      if (s >= Math.min(2, samples) && performance.now() - t0 > budgetMs) break;
      const order = s % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const c = cases[i]!;
        const sample = await runSample(ctx, c, lines, bodies, s + 1);
        got[i]!.push(sample);
        const spans = c.tracing ? `, ${spanTotal(sample.spans).toLocaleString('en-US')} spans (expected ${expectedSpans(sample).toLocaleString('en-US')})` : '';
        process.stderr.write(`tracing bench: round ${s + 1}, ${c.name}: ${Math.round(rate(sample)).toLocaleString('en-US')} records/s${spans} (load ${loadavg()[0]!.toFixed(2)})\n`);
      }
    }
    const load1 = loadavg();
    const [off, on] = cases.map((c, i) => stats(c, got[i]!)) as [CaseStats, CaseStats];
    const offSamples = got[0]!;
    const onSamples = got[1]!;
    const ratio = on.opsPerSec / off.opsPerSec;
    // Per round, the on-sample over the off-sample of the same round.
    const paired = onSamples.map((s) => rate(s) / rate(offSamples.find((o) => o.round === s.round)!));
    const pairedMedian = median(paired);
    const holds = Math.abs(1 - ratio) < GOAL;
    const last = onSamples[onSamples.length - 1]!;

    report('tracing', [off, on], {
      records: lines.length,
      rules: compiled.rules.length,
      seed: DEFAULTS.seed,
      shards: SHARDS,
      leaseMs: LEASE_MS,
      chunk: CHUNK,
      window: WINDOW,
      threads: 1,
      sampling: 'default (parent-based always-on)',
      receiver: 'minimal loopback HTTP server in the bench process, counts spans by name',
      natsServer: 'single, JetStream file store, replicas 1',
      loadAverage: [...load0, ...load1].map(r2),
      cpuUsPerRecord: { off: off.cpuUsPerRecord, on: on.cpuUsPerRecord },
      ratio: Math.round(ratio * 1000) / 1000,
      pairedRatios: paired.map((x) => Math.round(x * 1000) / 1000),
      goalHolds: holds,
      rejected: last.rejected,
      recordsPerMessage: r2(last.published / Math.max(1, last.messages)),
      spansPerOnSample: onSamples.map((s) => ({ round: s.round, ...s.spans, total: spanTotal(s.spans), expected: expectedSpans(s), requests: s.requests, messages: s.messages, applies: s.applies })),
    }, off.name);

    console.log('\nCPU per input record (µs, median of the samples): bench = this process (requests, polling, and in the on case the OTLP receiver); coordinator and node = the two `vigil serve` processes (the node\'s main thread: NATS consumers, leases, HTTP, spans; the rest is its lane actor thread and V8\'s helpers):');
    console.table([off, on].map((r) => ({ name: r.name, bench: r.cpuUsPerRecord.bench, 'nats-server': r.cpuUsPerRecord.nats, coordinator: r.cpuUsPerRecord.coordinator, node: r.cpuUsPerRecord.node, '(node main thread)': r.cpuUsPerRecord.nodeMain, total: r.cpuUsPerRecord.total })));
    console.log('\nSpans the receiver got per on-sample (after both processes stopped), against what the pipeline should have made:');
    console.table(onSamples.map((s) => ({
      round: s.round,
      'vigil.ingest': `${s.spans.ingest} / ${s.requests}`,
      'send shard': `${s.spans.sendShard} / ${s.messages}`,
      'process shard': `${s.spans.processShard} / ${s.applies}`,
      'vigil.shard.apply': `${s.spans.apply} / ${s.applies}`,
      'send alerts': s.spans.sendAlert,
      other: s.spans.other,
      total: spanTotal(s.spans),
      expected: expectedSpans(s),
      'received %': `${(spanTotal(s.spans) / expectedSpans(s) * 100).toFixed(1)} %`,
      'spans / 1000 records': r2(spanTotal(s.spans) / s.records * 1000),
      'export requests': s.spans.traceRequests,
      KiB: Math.round(s.spans.traceBytes / 1024),
      'metric exports': s.spans.metricRequests,
    })));
    const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
    console.log(`records per shard message ${r2(last.published / Math.max(1, last.messages))}, shard copies per record ${r2(last.published / Math.max(1, last.accepted))}, rejected lines ${last.rejected}`);
    console.log(`per-round on/off: ${paired.map((x) => pct(x)).join(', ')} (median ${pct(pairedMedian)})`);
    console.log(`tracing on ${on.opsPerSec.toLocaleString('en-US')} records/s vs off ${off.opsPerSec.toLocaleString('en-US')} records/s (medians of ${on.samples} and ${off.samples}): on/off = ${pct(ratio)}, |1 - ratio| = ${pct(Math.abs(1 - ratio))}; goal < ${pct(GOAL)}: ${holds ? 'holds' : 'does NOT hold'}`);
    console.log(`CPU per record, all processes: off ${off.cpuUsPerRecord.total} µs, on ${on.cpuUsPerRecord.total} µs (${pct(on.cpuUsPerRecord.total / off.cpuUsPerRecord.total - 1)}); coordinator ${off.cpuUsPerRecord.coordinator} → ${on.cpuUsPerRecord.coordinator} µs, node ${off.cpuUsPerRecord.node} → ${on.cpuUsPerRecord.node} µs, bench ${off.cpuUsPerRecord.bench} → ${on.cpuUsPerRecord.bench} µs`);
    console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    await nc?.close().catch(() => undefined);
    killServes();
    await receiver?.close().catch(() => undefined);
    await natsServer?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
