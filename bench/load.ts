/**
 * The load driver of `vigil bench`: feeds JSON lines through the single-threaded core
 * (JSON.parse → Ingest.prepare → Engine.advance + Engine.process, what one shard actor does
 * per record) in this process, either at a fixed arrival rate (open loop: record i is due at
 * t0 + i / rate whether or not the engine kept up, so a slow engine shows as latency from the
 * schedule, never as a slower schedule) or as fast as it goes (`rate` 0).
 *
 * Measures records/s, record-to-processed and record-to-alert latency (HdrHistogram, µs),
 * CPU (process.cpuUsage over wall time) and memory (RSS and heap, sampled), a timeline for
 * the chart, and every alert with the wall time it came out, for the quality score.
 *
 * Used by bench/cli.ts (`vigil bench`); not a bench on its own. Needs only the build.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { setImmediate as yieldNow } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import type { CompiledRules } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import { Ingest } from '../core/ingest.js';
import type { Alert } from '../core/alert.js';
import type { Progress } from './progress.js';

/** Records processed between two clock reads: the unit in which latency is observed. */
const CHUNK = 64;
/** Timeline bucket for the chart, ms. */
const BUCKET_MS = 250;

export interface Percentiles { readonly n: number, readonly p50: number, readonly p99: number, readonly p999: number, readonly max: number }

export interface TimelinePoint {
  /** seconds since the start */
  readonly t: number;
  readonly recordsPerSec: number;
  /** record-to-processed latency in this bucket, ms */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface LoadAlert {
  readonly rule: string;
  readonly key: string;
  /** event time of the crossing record, ms */
  readonly ts: number;
  /** account of the crossing record */
  readonly account: string;
  /** 0-based input line of the crossing record */
  readonly line: number;
  /** ms from the crossing record's scheduled arrival to the alert coming out */
  readonly latencyMs: number;
  /** ms since t0 when the alert came out */
  readonly atMs: number;
}

export interface LoadResult {
  readonly name: string;
  /** offered rate, records/s; 0 = as fast as possible */
  readonly rate: number;
  readonly records: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly seconds: number;
  /** records / seconds from the first scheduled arrival to the last record processed */
  readonly recordsPerSec: number;
  /** ms, from scheduled arrival to processed (rate 0: from the start of its chunk) */
  readonly latency: Percentiles;
  /** ms, from the crossing record's scheduled arrival to its alert coming out */
  readonly alertLatency: Percentiles;
  readonly alerts: number;
  /**
   * CPU time spent processing records over wall time, in % of one core: measured around
   * each chunk (process.cpuUsage, so GC threads working meanwhile count), leaving out the
   * driver's spinning while ahead of schedule
   */
  readonly cpuPercent: number;
  readonly rssMiB: number;
  /** peak heap used, sampled during the run */
  readonly heapMiB: number;
  /** heap used after a full GC at the end, the engine still alive (only with `gc`), bytes */
  readonly retainedHeap?: number;
  readonly keys: number;
  readonly timeline: readonly TimelinePoint[];
  /** ms since t0 at which record i was due (rate 0: when its chunk started) */
  readonly scheduledAt: Float64Array;
  readonly alertList: readonly LoadAlert[];
}

export interface LoadOptions {
  readonly name?: string;
  readonly compiled: CompiledRules;
  readonly lines: readonly string[];
  /** records/s offered; 0 = as fast as possible */
  readonly rate: number;
  /** untimed records through a throwaway engine first, for the JIT */
  readonly warm?: number;
  readonly progress?: Progress;
  /** stop offering after this long, ms (the rest of the lines are not sent) */
  readonly maxMs?: number;
  /** a full GC: when given, the heap is measured after the run with the engine still alive */
  readonly gc?: () => void;
}

function histogram (): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Percentiles in ms of a histogram of µs. */
export function percentiles (h: hdr.Histogram): Percentiles {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { n: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN };
  // HdrHistogram answers a percentile with the top of its bucket (3 significant digits),
  // which can lie above the largest value recorded: clamp to it.
  const at = (p: number): number => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return { n: h.totalCount, p50: at(50), p99: at(99), p999: at(99.9), max: ms(h.maxValue) };
}

function parseLine (line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** One record through the core; alerts go to `out`. Returns the record's account, or undefined when it was rejected. */
function step (ingest: Ingest, engine: Engine, line: string, i: number, out: Alert[]): string | undefined {
  const raw = parseLine(line);
  if (raw === undefined) return undefined;
  const p = ingest.prepare(raw, { source: 'bench', line: i + 1 }, line);
  if (!p.ok) return undefined;
  engine.advance(ingest.watermark);
  engine.process(p.record, undefined, out);
  return p.record.account;
}

export async function runLoad (o: LoadOptions): Promise<LoadResult> {
  const { compiled, lines, rate } = o;
  const name = o.name ?? (rate > 0 ? `vigil core @ ${rate}/s` : 'vigil core (max)');
  const scratch: Alert[] = [];
  if ((o.warm ?? 0) > 0) {
    const ingest = new Ingest(compiled);
    const engine = new Engine(compiled, () => 0);
    const n = Math.min(o.warm ?? 0, lines.length);
    for (let i = 0; i < n; i++) { step(ingest, engine, lines[i]!, i, scratch); scratch.length = 0; }
  }
  const ingest = new Ingest(compiled);
  const engine = new Engine(compiled, () => Date.now());
  const n = lines.length;
  const gap = rate > 0 ? 1000 / rate : 0;
  const scheduledAt = new Float64Array(n);
  const all = histogram();
  const alertHist = histogram();
  let bucket = histogram();
  const timeline: TimelinePoint[] = [];
  const alertList: LoadAlert[] = [];
  const out: Alert[] = [];
  let accepted = 0;
  let rejected = 0;
  let rss = 0;
  let heap = 0;
  const sampleMemory = (): void => {
    const m = process.memoryUsage();
    if (m.rss > rss) rss = m.rss;
    if (m.heapUsed > heap) heap = m.heapUsed;
  };

  const cpu0 = process.cpuUsage();
  const t0 = performance.now() + 2;
  while (performance.now() < t0) { /* start on the mark */ }
  let i = 0;
  let lastYield = t0;
  let bucketStart = t0;
  let bucketFrom = 0;
  const maxMs = o.maxMs ?? Infinity;
  let end = n;
  // CPU spent on records (µs): measured around each chunk, so the spinning while ahead of
  // schedule is not billed to the engine.
  let workCpu = 0;
  while (i < end) {
    const now = performance.now();
    if (now - t0 > maxMs) { end = i; break; }
    const due = rate > 0 ? Math.min(end, Math.floor((now - t0) / gap) + 1) : end;
    if (due <= i) {
      // Ahead of schedule: sleep when the next record is more than a timer tick away,
      // otherwise spin (a sleep would add a millisecond to its latency).
      const wait = t0 + i * gap - now;
      if (wait > 1.5) { await sleep(1); lastYield = performance.now(); }
      continue;
    }
    const cpuChunk = process.cpuUsage();
    const from = i;
    const stop = Math.min(due, i + CHUNK);
    const chunkStart = now - t0;
    for (; i < stop; i++) {
      scheduledAt[i] = rate > 0 ? i * gap : chunkStart;
      const before = out.length;
      const account = step(ingest, engine, lines[i]!, i, out);
      if (account === undefined) { rejected++; continue; }
      accepted++;
      for (let a = before; a < out.length; a++) {
        const alert = out[a]!;
        alertList.push({ rule: alert.rule, key: alert.key, ts: Date.parse(alert.ts), account, line: i, latencyMs: NaN, atMs: NaN });
      }
    }
    const done = performance.now() - t0;
    const used = process.cpuUsage(cpuChunk);
    workCpu += used.user + used.system;
    for (let j = from; j < stop; j++) {
      const us = Math.max(1, Math.round((done - scheduledAt[j]!) * 1000));
      all.recordValue(us);
      bucket.recordValue(us);
    }
    if (out.length > 0) {
      for (let a = alertList.length - out.length; a < alertList.length; a++) {
        const x = alertList[a] as { latencyMs: number, atMs: number, line: number };
        x.latencyMs = done - scheduledAt[x.line]!;
        x.atMs = done;
        alertHist.recordValue(Math.max(1, Math.round(x.latencyMs * 1000)));
      }
      out.length = 0;
    }
    const wall = performance.now();
    if (wall - bucketStart >= BUCKET_MS) {
      timeline.push({ t: (wall - t0) / 1000, recordsPerSec: Math.round((i - bucketFrom) / ((wall - bucketStart) / 1000)), p50Ms: bucket.getValueAtPercentile(50) / 1000, p99Ms: bucket.getValueAtPercentile(99) / 1000 });
      bucket.destroy();
      bucket = histogram();
      bucketStart = wall;
      bucketFrom = i;
      sampleMemory();
    }
    if (wall - lastYield > 100) {
      o.progress?.update(`${name}: ${i.toLocaleString('en-US')}/${end.toLocaleString('en-US')} records, ${Math.round(i / ((wall - t0) / 1000)).toLocaleString('en-US')}/s, p99 ${(all.getValueAtPercentile(99) / 1000).toFixed(2)} ms, ${alertList.length} alerts`);
      await yieldNow();
      lastYield = performance.now();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  sampleMemory();
  let retainedHeap: number | undefined;
  if (o.gc !== undefined) {
    o.gc();
    // The engine's arenas are typed arrays whose storage lies outside the JS heap.
    const m = process.memoryUsage();
    retainedHeap = m.heapUsed + m.arrayBuffers;
  }
  // Read after the measurement: an engine no longer used may be collected by that gc().
  const stats = engine.stats();
  const result: LoadResult = {
    name,
    rate,
    records: end,
    accepted,
    rejected,
    seconds: Math.round(seconds * 1000) / 1000,
    recordsPerSec: Math.round(end / seconds),
    latency: percentiles(all),
    alertLatency: percentiles(alertHist),
    alerts: alertList.length,
    cpuPercent: Math.round(Math.min(cpu.user + cpu.system, workCpu) / 1000 / (seconds * 1000) * 1000) / 10,
    rssMiB: Math.round(rss / 1048576),
    heapMiB: Math.round(heap / 1048576),
    keys: stats.keys,
    ...(retainedHeap === undefined ? {} : { retainedHeap }),
    timeline,
    scheduledAt: scheduledAt.subarray(0, end),
    alertList,
  };
  all.destroy();
  alertHist.destroy();
  bucket.destroy();
  return result;
}
