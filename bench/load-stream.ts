/**
 * The load driver over the embedded engine: the streaming pipeline of `vigil serve`
 * (cluster/stream.ts, in this process, no HTTP) with shard actors on worker threads and
 * counters in LMDB in a temporary folder, durable commits and checkpoints, epochs cut at
 * 1000 records or 5 ms (serve's defaults), fed open-loop at a fixed rate: every ~1 ms the
 * records due by then are offered whether or not the pipeline keeps up.
 *
 * Per record: scheduled arrival → its epoch's output written (where its alert would leave);
 * per alert: the crossing record's arrival → the alert written. HdrHistogram, as load.ts.
 * Used by `vigil bench` (`--threads N`); needs the build and temporary disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import type { CompiledRules } from '../core/compile.js';
import { Ingest } from '../core/ingest.js';
import { EngineError } from '../core/errors.js';
import { parseJsonLine } from '../core/readers/jsonl.js';
import { EmbeddedEngine } from '../cluster/embedded.js';
import { CheckpointStore } from '../cluster/checkpoint.js';
import { LineWriter } from '../cluster/output.js';
import { EpochStream, LineSink, type EpochSink } from '../cluster/stream.js';
import type { RawRecord } from '../cluster/record-source.js';
import type { Percentiles } from './load.js';
import { percentiles } from './load.js';
import type { Progress } from './progress.js';

const BATCH = { maxRecords: 1000, maxWaitMs: 5 };
const SHARDS = 64;

export interface StreamLoadResult {
  readonly name: string;
  readonly rate: number;
  readonly threads: number;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly epochs: number;
  /** ms, scheduled arrival → its epoch's alerts written */
  readonly latency: Percentiles;
  /** ms, crossing record's scheduled arrival → alert written */
  readonly alertLatency: Percentiles;
  /** ms, scheduled arrival → acknowledged (checkpointed) */
  readonly ackLatency: Percentiles;
  readonly alerts: number;
  readonly cpuPercent: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
}

function histogram (): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export async function runStreamLoad (o: { compiled: CompiledRules, lines: readonly string[], rate: number, threads: number, progress?: Progress }): Promise<StreamLoadResult> {
  const { compiled, lines, rate, threads } = o;
  const name = `vigil embedded ${threads} thread${threads === 1 ? '' : 's'} @ ${rate}/s`;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-stream-'));
  const engine = new EmbeddedEngine({ config: compiled.config, compiled, dataPath: dir, actors: threads, shards: SHARDS });
  const checkpoints = new CheckpointStore(dir);
  const alertsOut = new LineWriter(join(dir, 'alerts.jsonl'));
  const n = lines.length;
  const scheduled = new Float64Array(n);
  const toSink = histogram();
  const toAlert = histogram();
  const toAck = histogram();
  const lineSink = new LineSink(alertsOut, undefined);
  let epochs = 0;
  let alerts = 0;
  let rss = 0;
  let heap = 0;
  const us = (ms: number): number => Math.max(1, Math.round(ms * 1000));
  const timed: EpochSink = {
    write: (epoch, result, rejects) => {
      const mark = lineSink.write(epoch, result, rejects);
      const now = performance.now();
      epochs++;
      for (const src of epoch.sources.values()) {
        const seq = src.position.seq;
        if (seq !== undefined) toSink.recordValue(us(now - scheduled[seq]!));
      }
      for (const { index } of result.alerts) {
        const seq = epoch.sources.get(index)?.position.seq;
        alerts++;
        if (seq !== undefined) toAlert.recordValue(us(now - scheduled[seq]!));
      }
      return mark;
    },
  };
  const stream = new EpochStream({ engine, ingest: new Ingest(compiled), sink: timed, checkpoint: (cp) => checkpoints.write(cp), shards: SHARDS, checkpointed: 0, ...BATCH });
  try {
    await stream.start(0);
    const item = (i: number): RawRecord => {
      const text = lines[i]!;
      const position = { source: 'bench', seq: i };
      try {
        return { ok: true, value: parseJsonLine(text), position, text };
      } catch (err) {
        if (!(err instanceof EngineError)) throw err;
        return { ok: false, reject: { reason: err.message, code: err.code, position, raw: text } };
      }
    };
    const acks: Array<Promise<void>> = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now() + 10;
    const gap = 1000 / rate;
    let sent = 0;
    let lastReport = t0;
    while (sent < n) {
      const now = performance.now();
      const due = Math.min(n, Math.floor((now - t0) / gap) + 1);
      if (due > sent) {
        const from = sent;
        const items: RawRecord[] = [];
        for (let i = from; i < due; i++) {
          scheduled[i] = t0 + i * gap;
          items.push(item(i));
        }
        sent = due;
        // Not awaited: the offer waits while the pipeline is full, and the schedule must not.
        acks.push(stream.offer(items).then(({ committed }) => committed).then(() => {
          const done = performance.now();
          for (let i = from; i < due; i++) toAck.recordValue(us(done - scheduled[i]!));
        }));
      }
      if (now - lastReport > 250) {
        lastReport = now;
        const m = process.memoryUsage();
        if (m.rss > rss) rss = m.rss;
        if (m.heapUsed > heap) heap = m.heapUsed;
        o.progress?.update(`${name}: ${sent.toLocaleString('en-US')}/${n.toLocaleString('en-US')} offered, ${epochs} epochs written, p99 to output ${(toSink.getValueAtPercentile(99) / 1000).toFixed(2)} ms`);
      }
      await sleep(1);
    }
    await Promise.all(acks);
    await stream.drain();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const m = process.memoryUsage();
    return {
      name,
      rate,
      threads,
      records: n,
      seconds: Math.round(seconds * 1000) / 1000,
      recordsPerSec: Math.round(n / seconds),
      epochs,
      latency: percentiles(toSink),
      alertLatency: percentiles(toAlert),
      ackLatency: percentiles(toAck),
      alerts,
      // the whole process: process.cpuUsage() counts the actors' worker threads too
      cpuPercent: Math.round((cpu.user + cpu.system) / 1000 / (seconds * 1000) * 1000) / 10,
      rssMiB: Math.round(Math.max(rss, m.rss) / 1048576),
      heapMiB: Math.round(Math.max(heap, m.heapUsed) / 1048576),
    };
  } finally {
    stream.close();
    alertsOut.close();
    await engine.close();
    await checkpoints.close();
    rmSync(dir, { recursive: true, force: true });
    toSink.destroy();
    toAlert.destroy();
    toAck.destroy();
  }
}
