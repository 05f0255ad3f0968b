/**
 * How the benches feed records to a pipeline that takes RawRecords (a coordinator, the
 * streaming pipeline): each line as the record source would give it; closed-loop, a chunk at
 * a time as fast as the pipeline takes them; or open-loop, on a fixed schedule whether or not
 * the pipeline keeps up, so that a slow pipeline shows as latency measured from the schedule
 * rather than as a slower schedule.
 */
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from '../core/errors.js';
import { parseJsonLine } from '../core/readers/jsonl.js';
import type { RawRecord } from '../cluster/record-source.js';

/** A JSON line as the record source gives it (a line that does not decode becomes a reject). */
export function rawRecord (text: string, seq: number): RawRecord {
  const position = { source: 'bench', seq };
  try {
    return { ok: true, value: parseJsonLine(text), position, text };
  } catch (err) {
    if (!(err instanceof EngineError)) throw err;
    return { ok: false, reject: { reason: err.message, code: err.code, position, raw: text } };
  }
}

/**
 * Offers `lines` in chunks of `chunk` records, each once the pipeline took the last, and
 * resolves with each chunk's commit (not awaited). Between chunks the event loop runs, as a
 * producer's next chunk would come as I/O: without it a closed loop of offers is all
 * microtasks, and the pipeline's timers (the batch timer, PubAcks, replies) wait for the end.
 */
export async function offerInChunks<T> (lines: readonly string[], chunk: number, offer: (items: RawRecord[]) => Promise<{ readonly committed: Promise<T> }>): Promise<Array<Promise<T>>> {
  const receipts: Array<Promise<T>> = [];
  for (let i = 0; i < lines.length; i += chunk) {
    const items: RawRecord[] = [];
    for (let j = i; j < Math.min(lines.length, i + chunk); j++) items.push(rawRecord(lines[j]!, j));
    receipts.push((await offer(items)).committed);
    await yieldToLoop();
  }
  return receipts;
}

export interface Schedule {
  readonly lines: readonly string[];
  /** records per second */
  readonly rate: number;
  /** filled as records come due: when each was due (performance.now() ms), for latencies from it */
  readonly scheduled: Float64Array;
  readonly offer: (items: RawRecord[]) => Promise<{ readonly committed: Promise<unknown> }>;
  /** each record as it is offered */
  readonly offered?: (seq: number, raw: RawRecord) => void;
  /** each record once its offer is committed, with the ms since it was due */
  readonly acked?: (seq: number, ms: number) => void;
  /** about every 250 ms while offering */
  readonly tick?: (sent: number) => void;
}

/**
 * Offers every line, about every 1 ms the ones due by then, and resolves once every offer is
 * committed, with the performance.now() at which the first record was due.
 */
export async function offerOnSchedule (s: Schedule): Promise<number> {
  const { lines, scheduled } = s;
  const n = lines.length;
  const acks: Array<Promise<void>> = [];
  const t0 = performance.now() + 10;
  const gap = 1000 / s.rate;
  let sent = 0;
  let lastTick = t0;
  while (sent < n) {
    const now = performance.now();
    const due = Math.min(n, Math.floor((now - t0) / gap) + 1);
    if (due > sent) {
      const from = sent;
      const items: RawRecord[] = [];
      for (let i = from; i < due; i++) {
        scheduled[i] = t0 + i * gap;
        const raw = rawRecord(lines[i]!, i);
        s.offered?.(i, raw);
        items.push(raw);
      }
      sent = due;
      // Not awaited: the offer waits while the pipeline is full, and the schedule must not.
      acks.push(s.offer(items).then(({ committed }) => committed).then(() => {
        const done = performance.now();
        for (let i = from; i < due; i++) s.acked?.(i, done - scheduled[i]!);
      }));
    }
    if (now - lastTick > 250) {
      lastTick = now;
      s.tick?.(sent);
    }
    await sleep(1);
  }
  await Promise.all(acks);
  return t0;
}
