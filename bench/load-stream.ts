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
import * as hdr from 'hdr-histogram-js';
import type { CompiledRules } from '../core/compile.js';
import { runOpenLoop } from './open-loop.js';
import type { Percentiles } from './load.js';
import { percentiles } from './load.js';
import type { Progress } from './progress.js';

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
  const n = lines.length;
  const toSink = histogram();
  const toAlert = histogram();
  const toAck = histogram();
  let rss = 0;
  let heap = 0;
  const us = (ms: number): number => Math.max(1, Math.round(ms * 1000));
  try {
    const cpu0 = process.cpuUsage();
    const run = await runOpenLoop({
      compiled,
      lines,
      rate,
      threads,
      dataPath: dir,
      written: (_seq, ms) => { toSink.recordValue(us(ms)); },
      alert: (_seq, ms) => { toAlert.recordValue(us(ms)); },
      acked: (_seq, ms) => { toAck.recordValue(us(ms)); },
      tick: (sent, epochs) => {
        const m = process.memoryUsage();
        if (m.rss > rss) rss = m.rss;
        if (m.heapUsed > heap) heap = m.heapUsed;
        o.progress?.update(`${name}: ${sent.toLocaleString('en-US')}/${n.toLocaleString('en-US')} offered, ${epochs} epochs written, p99 to output ${(toSink.getValueAtPercentile(99) / 1000).toFixed(2)} ms`);
      },
    });
    const cpu = process.cpuUsage(cpu0);
    const m = process.memoryUsage();
    return {
      name,
      rate,
      threads,
      records: n,
      seconds: Math.round(run.seconds * 1000) / 1000,
      recordsPerSec: Math.round(n / run.seconds),
      epochs: run.epochs,
      latency: percentiles(toSink),
      alertLatency: percentiles(toAlert),
      ackLatency: percentiles(toAck),
      alerts: run.alerts,
      // the whole process: process.cpuUsage() counts the actors' worker threads too
      cpuPercent: Math.round((cpu.user + cpu.system) / 1000 / (run.seconds * 1000) * 1000) / 10,
      rssMiB: Math.round(Math.max(rss, m.rss) / 1048576),
      heapMiB: Math.round(Math.max(heap, m.heapUsed) / 1048576),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    toSink.destroy();
    toAlert.destroy();
    toAck.destroy();
  }
}
