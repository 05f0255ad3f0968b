/**
 * cluster: cluster mode (coordinator → JetStream shard stream → node processes) against the
 * embedded engine and the raw NATS ceiling, in the same run, on the same machine.
 *   - throughput, five cases, samples interleaved (one round = one sample of each); every
 *     sample has its own stream prefix, data folders and node processes (nothing shared):
 *       1. raw NATS ceiling: the batches the coordinator would publish for the input
 *          (Ingest.prepare + Placement.route, 500 records per shard message, packed with
 *          `wire`; built before the timer) published to the shard stream of a JetStream
 *          nats-server (message ids as the coordinator sets them, PubAcks awaited, one per
 *          shard in flight as the coordinator allows) and read back by one ordered consumer on
 *          `<prefix>.shard.*` that only unpacks each message. Input records / (first publish →
 *          last decode).
 *       2. embedded, replay: cluster/replay.ts replay() (`vigil replay`), 1 shard thread,
 *          durable LMDB commits in a fresh data folder, alerts to a file; its thread starts
 *          inside the timed run. Input records / run time.
 *       3. embedded, serve pipeline: what `vigil serve` runs without NATS (cluster/stream.ts,
 *          serve's epochs of 1000 records / 5 ms, durable, checkpoints), 1 shard thread started
 *          before the timer; raw records offered closed-loop in chunks of 1000, until the last
 *          is committed.
 *       4. cluster, 1 node: a Coordinator in this process (what `vigil serve` runs in the
 *          coordinator role) + one `vigil serve --config` process in the node role
 *          (threads 1). The node starts and holds its shards before the timer starts; then
 *          every record is offered closed-loop in chunks of 1000 raw records (JSON decoded in
 *          the timed loop, as replay reads its file), yielding to the event loop between chunks
 *          as a producer's I/O would, and the timer stops once the nodes'
 *          `vigil_node_records_applied` (GET /metrics, polled every 50 ms) add up to the
 *          coordinator's published count. Input records / (first offer → last apply).
 *       5. cluster, 2 nodes: the same with two node processes.
 *     Ratios: cluster / embedded (goal: ≥ 50 % of the faster embedded case) and cluster /
 *     ceiling (the stream should never be the bottleneck: the ceiling far above the cluster).
 *     CPU seconds per input record per component (this process, nats-server, the node
 *     processes and their main threads; from /proc) show where the time goes.
 *   - latency: cluster with 2 nodes, then with 1, records offered open-loop (every ~1 ms, the records due
 *     by then, whether or not the cluster keeps up) at half the measured rate of that many nodes for
 *     --latency-seconds, then at --floor-rate (2,000/s) for --floor-seconds. Per alert: from
 *     its record's scheduled offer to the alert arriving on a core NATS subscription to
 *     `<prefix>.alerts` (the alert's `record` is the record's id); per record: from its
 *     scheduled offer to JetStream holding it (the coordinator's receipt). The demo traffic
 *     alerts in bursts (none in its first 20,000 records), so each run offers the window of
 *     the traffic that holds the most labelled fraud cases, on a fresh cluster. The first
 *     10 % of each run warm the JIT and are not counted. p50/p99/p99.9 and the count.
 * Goals (issue: cluster mode): cluster ≥ 50 % of the embedded engine's records/s on the same
 * machine; the stream never the bottleneck.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js cluster
 *      (or: node --expose-gc dist/bench/cluster.bench.js [--samples 3] [--warmup 1]
 *       [--budget 120] [--records 100000] [--shards 64] [--latency-seconds 10] [--rate N]
 *       [--floor-rate N] [--floor-seconds S]: --records caps the demo traffic; --shards is
 *       config.cluster.shards (default 64, the config default); --budget SECONDS stops new
 *       rounds after that long (at least 2); --rate fixes the latency run's rate instead of
 *       half the 2-node rate)
 * Needs: the build (bin/vigil.js runs dist/), nats-server 2.9+ on the PATH or in /usr/sbin
 * (a private one is started on a random loopback port with its store in a temp folder, never
 * the one on 4222), ~1 GiB of temporary disk. Every process it starts is stopped at the end,
 * also on failure. Traffic: examples/dataset.ts, seed 42; rules: examples/rules.yaml. Nodes
 * renew leases every second (lease 3 s instead of 10 s, so that two starting nodes settle in
 * about 2 s).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cleanUpOnExit, killServes, metric, ownCpuSeconds, procCpuSeconds, startClusterProc, stopServe, type ServeProc } from './serve-procs.js';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledRules } from '../core/compile.js';
import { Ingest } from '../core/ingest.js';
import { Placement } from '../core/placement.js';
import type { UsageRecord } from '../core/usage-record.js';
import { DEFAULTS, generateTraffic, type Traffic } from '../examples/dataset.js';
import { Coordinator } from '../cluster/coordinator.js';
import type { ClusterNames } from '../cluster/jetstream.js';
import { shardsFor } from '../cluster/ownership.js';
import { replay } from '../cluster/replay.js';
import { EmbeddedEngine } from '../cluster/embedded.js';
import { CheckpointStore } from '../cluster/checkpoint.js';
import { LineWriter } from '../cluster/output.js';
import { EpochStream, LineSink } from '../cluster/stream.js';
import { wire } from '../workers/codec.js';
import type { ShardBatch } from '../workers/lanes/protocol.js';
import { connect, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type NatsConnection } from '../workers/nats-client.js';
import { startNatsServer, type NatsServer } from '../test/helpers/nats-server.js';
import type { CaseResult } from './harness.js';
import { caseResult, intArg, machine, median, report, sink } from './harness.js';
import { loadRules } from './rules.js';
import { summarize, type Latencies } from './latencies.js';
import { offerInChunks, offerOnSchedule, rawRecord } from './offer-records.js';
import { withStreams } from './cluster-streams.js';

const RULES = fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url));
const GOAL_SHARE = 0.5;
/** shards of the deployment: the config default (cluster.shards), or --shards */
const SHARDS = intArg('shards', 64);
/**
 * Shorter than the 10 s default so that two starting nodes settle their shares in about 2 s
 * (a hand-over waits for the holder's next tick, every lease / 3); renewals then cost one KV
 * update per held shard per second, a few per cent of the stream's messages.
 */
const LEASE_MS = 3_000;
/** raw records per coordinator.offer in the closed-loop cases */
const CHUNK = 1000;
/** records per shard message: the coordinator's default */
const BATCH_RECORDS = 500;
/** PubAcks awaited at once by the ceiling: the coordinator has at most one per shard in flight */
const IN_FLIGHT = SHARDS;
const POLL_MS = 50;
/** `vigil serve`'s default epochs (config.batch) */
const SERVE_BATCH = { maxRecords: 1000, maxWaitMs: 5 };
const LATENCY_WARM_SHARE = 0.1;
const STARTUP_MS = 60_000;
/** how long a run may wait for the nodes to apply the last record */
const DRAIN_MS = 300_000;

const gc = (globalThis as { gc?: () => void }).gc;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- processes (bench/serve-procs.ts tracks them and stops them, also on failure)

interface Ctx {
  readonly compiled: CompiledRules;
  readonly nats: NatsServer;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly dir: string;
}

/** Starts `vigil serve --config` in the node role and resolves once it says it is ready. */
async function startNode (ctx: Ctx, dir: string, prefix: string, id: string): Promise<ServeProc> {
  return await startClusterProc({ id, dir, rules: RULES, natsUrl: ctx.nats.url, prefix, roles: ['node'], shards: SHARDS, leaseMs: LEASE_MS });
}

async function appliedSum (nodes: readonly ServeProc[]): Promise<number> {
  const each = await Promise.all(nodes.map((n) => metric(n, 'vigil_node_records_applied')));
  return each.reduce((a, b) => a + b, 0);
}

/** Waits until every node holds exactly the shards rendezvous hashing gives it (every shard held, hand-overs done). */
async function waitHeld (nodes: readonly ServeProc[]): Promise<void> {
  const ids = nodes.map((n) => n.id);
  const want = nodes.map((n) => shardsFor(n.id, ids, SHARDS).length);
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    const held = await Promise.all(nodes.map((n) => metric(n, 'vigil_shards_held')));
    if (held.every((h, i) => h === want[i])) return;
    if (Date.now() > deadline) throw new Error(`nodes hold ${held.join('+')} shards, not ${want.join('+')}, after ${STARTUP_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** Waits until the nodes have applied `published` records (a record counts once per shard it went to). */
async function waitApplied (nodes: readonly ServeProc[], published: number): Promise<void> {
  const deadline = Date.now() + DRAIN_MS;
  let applied = 0;
  while ((applied = await appliedSum(nodes)) < published) {
    if (Date.now() > deadline) throw new Error(`the nodes applied ${applied} of ${published} published records within ${DRAIN_MS} ms`);
    for (const n of nodes) if (n.child.exitCode !== null || n.child.signalCode !== null) throw new Error(`node ${n.id} exited during the run`);
    await sleep(POLL_MS);
  }
}

// ---- CPU time per component (Linux /proc; zeros elsewhere)

/** CPU seconds: this process, nats-server, the node processes and, of those, their main threads. */
interface Cpu { bench: number, nats: number, nodes: number, nodesMain: number }

function cpuNow (ctx: Ctx, nodes: readonly ServeProc[]): Cpu {
  return {
    bench: ownCpuSeconds(),
    nats: procCpuSeconds(ctx.nats.process.pid),
    nodes: nodes.reduce((a, n) => a + procCpuSeconds(n.child.pid), 0),
    nodesMain: nodes.reduce((a, n) => a + procCpuSeconds(n.child.pid, true), 0),
  };
}

function cpuSince (ctx: Ctx, nodes: readonly ServeProc[], from: Cpu): Cpu {
  const now = cpuNow(ctx, nodes);
  return { bench: now.bench - from.bench, nats: now.nats - from.nats, nodes: now.nodes - from.nodes, nodesMain: now.nodesMain - from.nodesMain };
}

// ---- input

interface Prebuilt { readonly shard: number, readonly data: Uint8Array }

/** The shard messages the coordinator would publish for `lines` when every batch fills up: 500 records per shard, the rest at the end. */
function shardMessages (compiled: CompiledRules, lines: readonly string[]): { messages: Prebuilt[], routed: number } {
  const ingest = new Ingest(compiled);
  const placement = new Placement(compiled, SHARDS);
  const open = Array.from({ length: SHARDS }, () => ({ records: [] as UsageRecord[], watermark: [] as number[] }));
  const messages: Prebuilt[] = [];
  const route: number[] = [];
  let routed = 0;
  const seal = (shard: number): void => {
    const batch = open[shard]!;
    const payload: ShardBatch = { records: batch.records, watermark: batch.watermark };
    messages.push({ shard, data: wire.pack(payload) });
    open[shard] = { records: [], watermark: [] };
  };
  lines.forEach((line, seq) => {
    const raw = rawRecord(line, seq);
    if (!raw.ok) return;
    const prepared = ingest.prepare(raw.value, raw.position, raw.text);
    if (!prepared.ok) return;
    const n = placement.route(prepared.record, route);
    for (let i = 0; i < n; i++) {
      const shard = route[i]!;
      const batch = open[shard]!;
      batch.records.push(prepared.record);
      batch.watermark.push(ingest.watermark);
      routed++;
      if (batch.records.length >= BATCH_RECORDS) seal(shard);
    }
  });
  for (let s = 0; s < SHARDS; s++) if (open[s]!.records.length > 0) seal(s);
  return { messages, routed };
}

// ---- cases

interface Sample {
  readonly records: number;
  readonly ns: number;
  readonly cpu: Cpu;
  /** shard messages and records in them (a record counts once per shard) */
  readonly messages: number;
  readonly routed: number;
}

interface AsyncCase {
  readonly name: string;
  readonly run: (lines: readonly string[]) => Promise<Sample>;
}

/** Starts `count` node processes on a fresh prefix and folder, waits until they hold every shard, runs `body`, stops them. */
async function withNodes<T> (ctx: Ctx, count: number, body: (nodes: ServeProc[], names: ClusterNames) => Promise<T>): Promise<T> {
  return await withStreams(ctx, 'bench', LEASE_MS, async (prefix, names) => {
    const dir = mkdtempSync(join(ctx.dir, 'nodes-'));
    const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startNode(ctx, dir, prefix, `n${i + 1}`)));
    const nodes = started.flatMap((s) => s.status === 'fulfilled' ? [s.value] : []);
    try {
      const failed = started.find((s) => s.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await waitHeld(nodes);
      return await body(nodes, names);
    } finally {
      await Promise.all(nodes.map(stopServe));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function ceilingCase (ctx: Ctx, prebuilt: Map<number, { messages: Prebuilt[], routed: number }>): AsyncCase {
  return {
    name: 'raw NATS ceiling',
    run: async (lines) => {
      let built = prebuilt.get(lines.length);
      if (built === undefined) { built = shardMessages(ctx.compiled, lines); prebuilt.set(lines.length, built); }
      const { messages, routed } = built;
      return await withStreams(ctx, 'bench', LEASE_MS, async (prefix, names) => {
        const consumer = await ctx.js.consumers.get(names.shardStream, { deliver_policy: DeliverPolicy.All });
        const stream = await consumer.consume({ max_messages: 1024 });
        let decoded = 0;
        let records = 0;
        const reading = (async () => {
          for await (const m of stream) {
            records += (wire.unpack(m.data) as ShardBatch).records.length;
            if (++decoded === messages.length) break;
          }
        })();
        gc?.();
        const cpu0 = cpuNow(ctx, []);
        const t0 = process.hrtime.bigint();
        let next = 0;
        const publisher = async (): Promise<void> => {
          while (next < messages.length) {
            const i = next++;
            const m = messages[i]!;
            await ctx.js.publish(names.subjects.shard(m.shard), m.data, { msgID: `${prefix}-${i}`, timeout: 30_000 });
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, publisher));
        await reading;
        const ns = Number(process.hrtime.bigint() - t0);
        const cpu = cpuSince(ctx, [], cpu0);
        await stream.close();
        if (records !== routed) throw new Error(`the ceiling read back ${records} records, ${routed} were published`);
        sink.value += records;
        return { records: lines.length, ns, cpu, messages: messages.length, routed };
      });
    },
  };
}

function embeddedCase (ctx: Ctx): AsyncCase {
  return {
    name: 'embedded (replay, 1 thread)',
    run: async (lines) => {
      const dir = mkdtempSync(join(ctx.dir, 'replay-'));
      try {
        const input = join(dir, 'traffic.jsonl');
        writeFileSync(input, lines.join('\n') + '\n');
        gc?.();
        const cpu0 = cpuNow(ctx, []);
        const t0 = process.hrtime.bigint();
        const s = await replay({ compiled: ctx.compiled, inputs: [input], alerts: join(dir, 'alerts.jsonl'), threads: 1, dataPath: join(dir, 'data'), shards: SHARDS });
        const ns = Number(process.hrtime.bigint() - t0);
        const cpu = cpuSince(ctx, [], cpu0);
        sink.value += s.alerts;
        return { records: s.read, ns, cpu, messages: 0, routed: 0 };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** `vigil serve` without NATS: the streaming pipeline (cluster/stream.ts), its engine started before the timer as the nodes are. */
function servePipelineCase (ctx: Ctx): AsyncCase {
  return {
    name: 'embedded (serve pipeline, 1 thread)',
    run: async (lines) => {
      const dir = mkdtempSync(join(ctx.dir, 'serve-'));
      const { compiled } = ctx;
      const engine = new EmbeddedEngine({ config: compiled.config, compiled, dataPath: dir, actors: 1, shards: SHARDS });
      const checkpoints = new CheckpointStore(dir);
      const alertsOut = new LineWriter(join(dir, 'alerts.jsonl'));
      const stream = new EpochStream({ engine, ingest: new Ingest(compiled), sink: new LineSink(alertsOut, undefined), checkpoint: (cp) => checkpoints.write(cp), shards: SHARDS, checkpointed: 0, ...SERVE_BATCH });
      try {
        await stream.start(0);
        gc?.();
        const cpu0 = cpuNow(ctx, []);
        const t0 = process.hrtime.bigint();
        const receipts = await offerInChunks(lines, CHUNK, (items) => stream.offer(items));
        await stream.drain();
        const accepted = (await Promise.all(receipts)).reduce((a, r) => a + r.accepted, 0);
        const ns = Number(process.hrtime.bigint() - t0);
        const cpu = cpuSince(ctx, [], cpu0);
        sink.value += accepted;
        return { records: lines.length, ns, cpu, messages: 0, routed: 0 };
      } finally {
        stream.close();
        alertsOut.close();
        await engine.close();
        await checkpoints.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function clusterCase (ctx: Ctx, count: number): AsyncCase {
  return {
    name: `cluster, ${count} node${count === 1 ? '' : 's'}`,
    run: async (lines) => await withNodes(ctx, count, async (nodes, names) => {
      const coordinator = new Coordinator({ nc: ctx.nc, js: ctx.js, names, compiled: ctx.compiled, shards: SHARDS, id: 'bench' });
      try {
        gc?.();
        const cpu0 = cpuNow(ctx, nodes);
        const t0 = process.hrtime.bigint();
        const receipts = await offerInChunks(lines, CHUNK, (items) => coordinator.offer(items));
        await coordinator.flush();
        await Promise.all(receipts);
        await waitApplied(nodes, coordinator.counts.published);
        const ns = Number(process.hrtime.bigint() - t0);
        const cpu = cpuSince(ctx, nodes, cpu0);
        sink.value += coordinator.counts.published;
        return { records: lines.length, ns, cpu, messages: coordinator.counts.messages, routed: coordinator.counts.published };
      } finally {
        await coordinator.close();
      }
    }),
  };
}

// ---- throughput rounds

interface CaseStats extends CaseResult {
  /** medians over the samples, per input record: CPU µs of each component, shard messages, routed copies */
  readonly cpuUsPerRecord: { bench: number, nats: number, nodes: number, nodesMain: number, total: number };
  readonly recordsPerMessage: number;
  readonly shardsPerRecord: number;
}

const r2 = (v: number): number => Math.round(v * 100) / 100;

/** harness.runCases for async cases: warm-up rounds, then rounds of one sample per case, interleaved, until `samples` or the budget. */
async function runInterleaved (cases: readonly AsyncCase[], lines: readonly string[], warmLines: readonly string[], o: { warmup: number, samples: number, minSamples: number, budgetMs: number }): Promise<CaseStats[]> {
  for (let i = 0; i < o.warmup; i++) {
    for (const c of cases) await c.run(warmLines);
  }
  const samples = cases.map(() => [] as Sample[]);
  const started = performance.now();
  for (let s = 0; s < o.samples; s++) {
    if (s >= o.minSamples && performance.now() - started > o.budgetMs) break;
    for (let i = 0; i < cases.length; i++) {
      const sample = await cases[i]!.run(lines);
      samples[i]!.push(sample);
      process.stderr.write(`cluster bench: round ${s + 1}, ${cases[i]!.name}: ${Math.round(sample.records / (sample.ns / 1e9)).toLocaleString('en-US')} records/s (load ${loadavg()[0]!.toFixed(2)})\n`);
    }
  }
  return cases.map((c, i) => {
    const got = samples[i]!;
    const per = (f: (x: Sample) => number): number => r2(median(got.map((x) => f(x) / x.records * 1e6)));
    const cpu = { bench: per((x) => x.cpu.bench), nats: per((x) => x.cpu.nats), nodes: per((x) => x.cpu.nodes), nodesMain: per((x) => x.cpu.nodesMain), total: per((x) => x.cpu.bench + x.cpu.nats + x.cpu.nodes) };
    const last = got[got.length - 1]!;
    return {
      ...caseResult(c.name, got.map((x) => x.ns / x.records)),
      cpuUsPerRecord: cpu,
      recordsPerMessage: last.messages === 0 ? 0 : Math.round(last.routed / last.messages * 10) / 10,
      shardsPerRecord: last.routed === 0 ? 0 : Math.round(last.routed / last.records * 100) / 100,
    };
  });
}

// ---- latency

interface LatencyRun {
  readonly rate: number;
  readonly offered: number;
  /** records / seconds from the first scheduled offer to the last record applied */
  readonly achieved: number;
  /** the window of the traffic offered: [from, from + offered) */
  readonly from: number;
  readonly alerts: Latencies;
  /** alerts whose record had no id in the input (ingest derived one): not timed */
  readonly unmatched: number;
  readonly toStream: Latencies;
  readonly recordsPerMessage: number;
}

/**
 * The `n` consecutive records of `traffic` that hold the most labelled fraud cases, each case
 * at least 30 % into the window (after the warm-up share): the demo traffic raises its alerts
 * in a few bursts (seed 42: none in the first 20,000 records), and a latency run of a few
 * seconds from the start would time no alert at all. The window starts on a fresh cluster.
 */
function alertWindow (traffic: Traffic, n: number): { lines: string[], from: number } {
  const total = traffic.lines.length;
  if (n >= total) return { lines: traffic.lines, from: 0 };
  const cases = traffic.labels.filter((l) => l.kind === 'fraud' && l.line !== undefined).map((l) => l.line! - 1).sort((a, b) => a - b);
  let best = 0;
  let bestCount = -1;
  for (const start of [0, ...cases.map((c) => Math.min(total - n, Math.max(0, c - Math.floor(n * 0.3))))]) {
    const count = cases.filter((c) => c >= start + n * 0.3 && c < start + n).length;
    if (count > bestCount) { best = start; bestCount = count; }
  }
  return { lines: traffic.lines.slice(best, best + n), from: best };
}

/** Open-loop run of a cluster of `nodeCount` nodes at `rate` records/s over `lines`. */
async function measureLatency (ctx: Ctx, lines: readonly string[], from: number, rate: number, nodeCount: number): Promise<LatencyRun> {
  return await withNodes(ctx, nodeCount, async (nodes, names) => {
    const n = lines.length;
    const warm = Math.floor(n * LATENCY_WARM_SHARE);
    const scheduled = new Float64Array(n);
    const toStream = new Float64Array(n).fill(NaN);
    const byId = new Map<string, number>();
    const alertMs: number[] = [];
    const seen = new Set<string>();
    let unmatched = 0;
    const sub = ctx.nc.subscribe(names.subjects.alerts, {
      callback: (err, msg) => {
        if (err !== null) return;
        const now = performance.now();
        const alert = JSON.parse(msg.string()) as { id: string, record: string };
        if (seen.has(alert.id)) return;
        seen.add(alert.id);
        const seq = byId.get(alert.record);
        if (seq === undefined) unmatched++;
        else if (seq >= warm) alertMs.push(now - scheduled[seq]!);
      },
    });
    await ctx.nc.flush();
    const coordinator = new Coordinator({ nc: ctx.nc, js: ctx.js, names, compiled: ctx.compiled, shards: SHARDS, id: 'bench' });
    try {
      gc?.();
      const t0 = await offerOnSchedule({
        lines,
        rate,
        scheduled,
        offer: (items) => coordinator.offer(items),
        // Alerts name their record by id: the alert's latency is from that record's due time.
        offered: (i, raw) => {
          const id = raw.ok ? (raw.value as { id?: unknown }).id : undefined;
          if (typeof id === 'string') byId.set(id, i);
        },
        acked: (i, ms) => { toStream[i] = ms; },
      });
      await coordinator.flush();
      await waitApplied(nodes, coordinator.counts.published);
      const seconds = (performance.now() - t0) / 1000;
      // A lane publishes its alerts right after it counts the records applied.
      await sleep(500);
      return {
        rate,
        offered: n,
        achieved: Math.round(n / seconds),
        from,
        alerts: summarize(alertMs),
        unmatched,
        toStream: summarize(toStream.subarray(warm)),
        recordsPerMessage: Math.round(coordinator.counts.published / Math.max(1, coordinator.counts.messages) * 10) / 10,
      };
    } finally {
      await coordinator.close();
      sub.unsubscribe();
    }
  });
}

// ---- main

async function main (): Promise<void> {
  const samples = intArg('samples', 3);
  const warmup = intArg('warmup', 1);
  const budgetMs = intArg('budget', 120) * 1000;
  const cap = intArg('records', 100_000);
  const latencySeconds = intArg('latency-seconds', 10);
  const floorRate = intArg('floor-rate', 2_000);
  const floorSeconds = intArg('floor-seconds', 8);
  const compiled = loadRules(RULES);
  const load0 = loadavg();
  const m = machine();
  process.stderr.write(`cluster bench: ${m.cpu}, ${m.cores} cores, node ${m.node}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-'));
  cleanUpOnExit(undefined, dir);
  let nc: NatsConnection | undefined;
  let natsServer: NatsServer | undefined;
  try {
    natsServer = await startNatsServer({ jetstream: true });
    cleanUpOnExit(natsServer.process);
    const nats = natsServer;
    nc = await connect({ servers: nats.url, name: 'vigil-bench' });
    const ctx: Ctx = { compiled, nats, nc, js: jetstream(nc), jsm: await jetstreamManager(nc), dir };

    const traffic = generateTraffic(DEFAULTS);
    const lines = traffic.lines.slice(0, cap);
    const warmLines = lines.slice(0, Math.ceil(lines.length / 6));
    const prebuilt = new Map<number, { messages: Prebuilt[], routed: number }>();
    const cases = [ceilingCase(ctx, prebuilt), embeddedCase(ctx), servePipelineCase(ctx), clusterCase(ctx, 1), clusterCase(ctx, 2)];
    const results = await runInterleaved(cases, lines, warmLines, { warmup, samples, minSamples: Math.min(2, samples), budgetMs });
    const [ceiling, replayed, served, one, two] = results as [CaseStats, CaseStats, CaseStats, CaseStats, CaseStats];
    // The goal is judged against the faster of the two embedded figures.
    const embedded = replayed.opsPerSec >= served.opsPerSec ? replayed : served;

    const rate = intArg('rate', Math.max(1, Math.round(two.opsPerSec / 2)));
    const wanted = Math.ceil(rate * latencySeconds);
    const days = Math.min(30, Math.max(DEFAULTS.days, Math.ceil(wanted / (traffic.lines.length / DEFAULTS.days))));
    const window = alertWindow(days === DEFAULTS.days ? traffic : generateTraffic({ ...DEFAULTS, days }), wanted);
    process.stderr.write(`cluster bench: latency at ${rate.toLocaleString('en-US')}/s for ${latencySeconds} s (records ${window.from}-${window.from + window.lines.length})\n`);
    const latency = await measureLatency(ctx, window.lines, window.from, rate, 2);
    const rate1 = intArg('rate', Math.max(1, Math.round(one.opsPerSec / 2)));
    const window1 = alertWindow(days === DEFAULTS.days ? traffic : generateTraffic({ ...DEFAULTS, days }), Math.ceil(rate1 * latencySeconds));
    process.stderr.write(`cluster bench: latency, 1 node, at ${rate1.toLocaleString('en-US')}/s for ${latencySeconds} s\n`);
    const latency1 = await measureLatency(ctx, window1.lines, window1.from, rate1, 1);
    const floorWindow = alertWindow(traffic, floorRate * floorSeconds);
    process.stderr.write(`cluster bench: latency at ${floorRate.toLocaleString('en-US')}/s for ${floorSeconds} s (records ${floorWindow.from}-${floorWindow.from + floorWindow.lines.length}), 2 nodes then 1\n`);
    const floor = await measureLatency(ctx, floorWindow.lines, floorWindow.from, floorRate, 2);
    const floor1 = await measureLatency(ctx, floorWindow.lines, floorWindow.from, floorRate, 1);
    const load1 = loadavg();

    const share = (c: CaseStats, of: CaseStats): number => Math.round(c.opsPerSec / of.opsPerSec * 1000) / 1000;
    report('cluster', results, {
      records: lines.length,
      rules: compiled.rules.length,
      counters: compiled.counters.length,
      seed: DEFAULTS.seed,
      days: DEFAULTS.days,
      shards: SHARDS,
      leaseMs: LEASE_MS,
      chunk: CHUNK,
      batchRecords: BATCH_RECORDS,
      inFlight: IN_FLIGHT,
      durable: true,
      natsServer: 'single, JetStream file store, replicas 1',
      loadAverage: [...load0, ...load1].map(r2),
      cpuUsPerRecord: Object.fromEntries(results.map((r) => [r.name, r.cpuUsPerRecord])),
      recordsPerMessage: Object.fromEntries(results.map((r) => [r.name, r.recordsPerMessage])),
      shardsPerRecord: one.shardsPerRecord,
      ratios: {
        embedded: embedded.name,
        oneNodeVsEmbedded: share(one, embedded),
        twoNodesVsEmbedded: share(two, embedded),
        oneNodeVsReplay: share(one, replayed),
        twoNodesVsReplay: share(two, replayed),
        oneNodeVsServePipeline: share(one, served),
        twoNodesVsServePipeline: share(two, served),
        twoVsOneNode: share(two, one),
        ceilingVsFasterCluster: Math.round(ceiling.opsPerSec / Math.max(one.opsPerSec, two.opsPerSec) * 100) / 100,
      },
      latency: { ...latency, nodes: 2, latencyDays: days },
      floor,
      latencyOneNode: latency1,
      floorOneNode: floor1,
    }, replayed.name);

    console.log('\nCPU per input record (µs, median of the samples): bench = this process (the ceiling\'s publisher and reader, replay or the serve pipeline with their actor thread, the coordinator); node processes in all, and of that their main threads (NATS consumers, leases, HTTP, alert publishing; the rest is the lane actor thread and V8\'s GC helpers):');
    console.table(results.map((r) => ({ name: r.name, bench: r.cpuUsPerRecord.bench, 'nats-server': r.cpuUsPerRecord.nats, 'node processes': r.cpuUsPerRecord.nodes, '(main threads)': r.cpuUsPerRecord.nodesMain, total: r.cpuUsPerRecord.total, 'records per shard message': r.recordsPerMessage || '' })));
    const rows = (run: LatencyRun, nodeCount = 2): Array<Record<string, unknown>> => {
      const at = `${nodeCount} node${nodeCount > 1 ? 's' : ''}, ${run.rate.toLocaleString('en-US')}/s (achieved ${run.achieved.toLocaleString('en-US')}/s)`;
      return [
        { rate: at, from: `offer → alert on <prefix>.alerts (actual alerts${run.unmatched > 0 ? `; ${run.unmatched} more on records without an id, not timed` : ''})`, ...run.alerts },
        { rate: at, from: 'offer → held by JetStream (every record)', ...run.toStream },
      ];
    };
    console.log(`\nlatency (ms), cluster with 2 nodes (then 1), offered open-loop at half the measured rate (records ${latency.from}-${latency.from + latency.offered} of the traffic) and at ${floorRate.toLocaleString('en-US')}/s (records ${floor.from}-${floor.from + floor.offered}); first ${LATENCY_WARM_SHARE * 100} % of each not counted; shard messages averaged ${latency.recordsPerMessage} and ${floor.recordsPerMessage} records:`);
    console.table([...rows(latency), ...rows(floor), ...rows(latency1, 1), ...rows(floor1, 1)]);
    const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
    const holds = (ok: boolean): string => ok ? 'holds' : 'does NOT hold';
    for (const c of [one, two]) {
      console.log(`${c.name}: ${c.opsPerSec.toLocaleString('en-US')} records/s = ${pct(share(c, replayed))} of replay (${replayed.opsPerSec.toLocaleString('en-US')}/s), ${pct(share(c, served))} of the serve pipeline (${served.opsPerSec.toLocaleString('en-US')}/s); goal >= ${pct(GOAL_SHARE)} of the faster (${embedded.name}): ${holds(share(c, embedded) >= GOAL_SHARE)}`);
    }
    const headroom = ceiling.opsPerSec / Math.max(one.opsPerSec, two.opsPerSec);
    console.log(`raw NATS ceiling: ${ceiling.opsPerSec.toLocaleString('en-US')} records/s = ${headroom.toFixed(1)}x the faster cluster case: ${headroom >= 3 ? 'far above it, the stream is not the bottleneck' : headroom >= 1.5 ? 'above it, but not by much: the stream takes a real share of the machine' : 'about the cluster\'s rate: the stream IS the bottleneck'}`);
    console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    await nc?.close().catch(() => undefined);
    killServes();
    await natsServer?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
