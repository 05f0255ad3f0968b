/**
 * Drives the streaming pipeline of `vigil serve` (cluster/stream.ts, in this process, no HTTP)
 * open-loop: shard actors on worker threads, counters in LMDB under `dataPath`, durable commits
 * and checkpoints, epochs cut at 1000 records or 5 ms (serve's defaults). Every ~1 ms the
 * records due by then are offered whether or not the pipeline keeps up, so a slow pipeline
 * shows as latency measured from the schedule, not as a slower schedule.
 *
 * The caller measures through callbacks (ms since the record's scheduled arrival):
 * `written` for every record of an epoch whose output was written, `alert` for the crossing
 * record of every alert, `acked` for every record once checkpointed. Used by bench/load-stream.ts
 * (`vigil bench --threads N`) and bench/replay.bench.ts.
 */
import { join } from 'node:path';
import type { CompiledRules } from '../core/compile.js';
import { Ingest } from '../core/ingest.js';
import { EmbeddedEngine } from '../cluster/embedded.js';
import { CheckpointStore } from '../cluster/checkpoint.js';
import { LineWriter } from '../cluster/output.js';
import { EpochStream, LineSink, type EpochSink } from '../cluster/stream.js';
import { offerOnSchedule } from './offer-records.js';

const BATCH = { maxRecords: 1000, maxWaitMs: 5 };
export const SHARDS = 64;

export interface OpenLoopOptions {
  readonly compiled: CompiledRules;
  readonly lines: readonly string[];
  /** records per second offered */
  readonly rate: number;
  readonly threads: number;
  /** an empty folder for LMDB and the alerts file; the caller removes it */
  readonly dataPath: string;
  readonly written?: (seq: number, ms: number) => void;
  readonly alert?: (seq: number, ms: number) => void;
  readonly acked?: (seq: number, ms: number) => void;
  /** about every 250 ms while offering */
  readonly tick?: (sent: number, epochs: number) => void;
}

export interface OpenLoopRun {
  /** from the first scheduled arrival to the last acknowledgement */
  readonly seconds: number;
  readonly epochs: number;
  readonly alerts: number;
}

export async function runOpenLoop (o: OpenLoopOptions): Promise<OpenLoopRun> {
  const { compiled, lines, rate } = o;
  const engine = new EmbeddedEngine({ config: compiled.config, compiled, dataPath: o.dataPath, actors: o.threads, shards: SHARDS });
  const checkpoints = new CheckpointStore(o.dataPath);
  const alertsOut = new LineWriter(join(o.dataPath, 'alerts.jsonl'));
  const lineSink = new LineSink(alertsOut, undefined);
  const n = lines.length;
  const scheduled = new Float64Array(n);
  let epochs = 0;
  let alerts = 0;
  const timed: EpochSink = {
    write: (epoch, result, rejects) => {
      const mark = lineSink.write(epoch, result, rejects);
      const now = performance.now();
      epochs++;
      for (const src of epoch.sources.values()) {
        const seq = src.position.seq;
        if (seq !== undefined) o.written?.(seq, now - scheduled[seq]!);
      }
      for (const { index } of result.alerts) {
        alerts++;
        const seq = epoch.sources.get(index)?.position.seq;
        if (seq !== undefined) o.alert?.(seq, now - scheduled[seq]!);
      }
      return mark;
    },
  };
  const stream = new EpochStream({ engine, ingest: new Ingest(compiled), sink: timed, checkpoint: (cp) => checkpoints.write(cp), shards: SHARDS, checkpointed: 0, ...BATCH });
  try {
    await stream.start(0);
    const t0 = await offerOnSchedule({
      lines,
      rate,
      scheduled,
      offer: (items) => stream.offer(items),
      ...(o.acked === undefined ? {} : { acked: o.acked }),
      tick: (sent) => { o.tick?.(sent, epochs); },
    });
    const seconds = (performance.now() - t0) / 1000;
    await stream.drain();
    return { seconds, epochs, alerts };
  } finally {
    stream.close();
    alertsOut.close();
    await engine.close();
    await checkpoints.close();
  }
}
