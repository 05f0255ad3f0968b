/**
 * The streaming pipeline: takes raw records as they arrive (HTTP today, NATS later), validates
 * them through Ingest in arrival order, cuts them into epochs by size or by a short timer,
 * sends epochs to the engine in order with a few in flight, writes each finished epoch's
 * alerts and rejects to a sink in epoch order, and checkpoints. An offer's receipt resolves
 * only once every epoch holding its records is applied by every actor and checkpointed, so a
 * caller that acknowledges on the receipt never acknowledges a record that could be lost.
 *
 * Memory is bounded: at most `depth` epochs are in flight; an offer that would start one more
 * waits (and with it every later offer), so producers are slowed, never buffered without end.
 *
 * A rules reload swaps the engine between two epochs (pause): offers wait while it runs.
 */
import type { Ingest } from '../core/ingest.js';
import type { Reject } from '../core/usage-record.js';
import type { RawRecord } from './record-source.js';
import type { EpochResult } from './embedded.js';
import { STREAM_EPOCH_SIZE, type Checkpoint } from './checkpoint.js';
import { epochRejects, newEpoch, rejectLine, type Epoch } from './replay.js';
import type { LineWriter } from './output.js';

/** What the pipeline needs of an engine: EmbeddedEngine has it, a NATS-backed one will too. */
export interface EpochEngine {
  apply (epoch: number, records: Epoch['records'], index: readonly number[], watermark: readonly number[]): Promise<EpochResult>;
  /** Outputs up to this epoch are durable downstream; outboxes up to it may go. */
  release (epoch: number): void;
}

/** Where finished epochs go, in epoch order. */
export interface EpochSink {
  /**
   * Writes one epoch's alerts (in EpochResult order) and rejects, synchronously, and returns
   * the output lengths after them, for the checkpoint.
   */
  write (epoch: Epoch, result: EpochResult, rejects: readonly Reject[]): OutputMark;
}

export interface OutputMark { readonly alertsBytes: number, readonly rejectsBytes: number }

/** Alerts and rejects as JSON lines (the format replay writes), flushed once per epoch. */
export class LineSink implements EpochSink {
  private readonly alerts: LineWriter;
  private readonly rejects: LineWriter | undefined;

  constructor (alerts: LineWriter, rejects: LineWriter | undefined) {
    this.alerts = alerts;
    this.rejects = rejects;
  }

  write (_epoch: Epoch, result: EpochResult, rejects: readonly Reject[]): OutputMark {
    for (const { alert } of result.alerts) this.alerts.write(JSON.stringify(alert));
    if (this.rejects !== undefined) for (const reject of rejects) this.rejects.write(rejectLine(reject));
    this.alerts.flush();
    this.rejects?.flush();
    return { alertsBytes: this.alerts.bytes, rejectsBytes: this.rejects?.bytes ?? 0 };
  }
}

/**
 * When to cut the open epoch: as soon as it holds `maxRecords` input records, or `maxWaitMs`
 * after its first record arrived, whichever comes first. Pure: the clock is a parameter.
 */
export class EpochCutter {
  readonly maxRecords: number;
  readonly maxWaitMs: number;
  private size = 0;
  private openedAt = 0;

  constructor (maxRecords: number, maxWaitMs: number) {
    if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new RangeError(`maxRecords must be a positive integer, got ${maxRecords}`);
    if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${maxWaitMs}`);
    this.maxRecords = maxRecords;
    this.maxWaitMs = maxWaitMs;
  }

  /** One record joined the open epoch at `now`; true when the epoch is full and must be cut. */
  add (now: number): boolean {
    if (this.size === 0) this.openedAt = now;
    this.size++;
    return this.size >= this.maxRecords;
  }

  /** When the open epoch is due by time; undefined when it is empty. */
  get deadline (): number | undefined {
    return this.size === 0 ? undefined : this.openedAt + this.maxWaitMs;
  }

  /** True when the open epoch holds records and its time is up at `now`. */
  due (now: number): boolean {
    return this.size > 0 && now >= this.openedAt + this.maxWaitMs;
  }

  /** The open epoch was cut. */
  reset (): void {
    this.size = 0;
  }
}

/** What one offer came to, once every record of it is committed. */
export interface Receipt {
  readonly accepted: number;
  /** rejects in input order: by ingest (validation, lateness) and by the engine */
  readonly rejects: readonly Reject[];
}

/** The records of one offer, followed across the epochs that hold them. */
class Ticket {
  accepted = 0;
  /** epochs holding records of this offer that are not committed yet */
  pending = 0;
  readonly rejects: Array<{ order: number, reject: Reject }> = [];
  readonly promise: Promise<Receipt>;
  resolve!: (r: Receipt) => void;
  reject!: (err: unknown) => void;

  constructor () {
    this.promise = new Promise<Receipt>((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    // A failure is delivered through the promise; the caller may not be listening yet.
    this.promise.catch(() => undefined);
  }

  settle (): void {
    this.rejects.sort((a, b) => a.order - b.order);
    this.resolve({ accepted: this.accepted, rejects: this.rejects.map((r) => r.reject) });
  }
}

interface StreamEpoch extends Epoch {
  /** per epoch index: the ticket and the record's order within its offer */
  readonly owners: Array<{ ticket: Ticket, order: number }>;
  readonly tickets: Set<Ticket>;
}

interface InFlight {
  readonly epoch: StreamEpoch;
  readonly result: Promise<EpochResult>;
  /** the ingest watermark after the epoch's last record */
  readonly watermark: number;
}

export interface StreamOptions {
  readonly engine: EpochEngine;
  readonly ingest: Ingest;
  readonly sink: EpochSink;
  /** writes a checkpoint durably; undefined: outputs are not checkpointed (tests, benches) */
  readonly checkpoint?: ((c: Checkpoint) => Promise<void>) | undefined;
  /** the data folder's shard count, kept in the checkpoint */
  readonly shards: number;
  /** the last epoch already checkpointed (0 for a new data folder) */
  readonly checkpointed: number;
  readonly maxRecords: number;
  readonly maxWaitMs: number;
  /** epochs in flight at once (default 4) */
  readonly depth?: number;
  /**
   * Cut the open epoch at once when no epoch is in flight (default true): waiting buys a
   * batch only while the engine is busy, so an idle pipeline sends what it has. While epochs
   * are in flight, records gather up to maxRecords or maxWaitMs, or until the pipeline drains.
   */
  readonly cutWhenIdle?: boolean;
  readonly now?: () => number;
}

export { STREAM_EPOCH_SIZE } from './checkpoint.js';

export class EpochStream {
  private readonly opts: StreamOptions;
  /** replaced by a reload (see pause) */
  private engine: EpochEngine;
  private ingest: Ingest;
  private replaced = false;
  private readonly cutter: EpochCutter;
  private readonly depth: number;
  private readonly idleCut: boolean;
  private readonly now: () => number;
  private open: StreamEpoch;
  private readonly inFlight: InFlight[] = [];
  /** resolves the offer waiting for a free slot */
  private slotFreed: (() => void) | undefined;
  /** offers and cuts run one at a time, in call order */
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** finished epochs whose checkpoint is not written yet, oldest first */
  private unsaved: Array<{ epoch: number, watermark: number, mark: OutputMark, tickets: Set<Ticket> }> = [];
  private saving: Promise<void> | undefined;
  private completing: Promise<void> = Promise.resolve();
  private error: unknown;
  private failedListeners: Array<(err: unknown) => void> = [];
  private lastCheckpointed: number;

  constructor (opts: StreamOptions) {
    this.opts = opts;
    this.engine = opts.engine;
    this.ingest = opts.ingest;
    this.cutter = new EpochCutter(opts.maxRecords, opts.maxWaitMs);
    this.depth = opts.depth ?? 4;
    this.idleCut = opts.cutWhenIdle ?? true;
    this.now = opts.now ?? Date.now;
    this.lastCheckpointed = opts.checkpointed;
    this.open = streamEpoch(opts.checkpointed + 1);
  }

  /** The last epoch whose outputs are checkpointed (every offer in it is acknowledged). */
  get checkpointed (): number { return this.lastCheckpointed; }

  /** Calls `listener` once if the pipeline fails (an engine or checkpoint failure); it then refuses offers. */
  onFailure (listener: (err: unknown) => void): void {
    if (this.error !== undefined) listener(this.error);
    else this.failedListeners.push(listener);
  }

  /**
   * Brings the engine to one epoch on every actor before new input: the epochs up to
   * `applied` that some actor committed after the last checkpoint (the process died before
   * checkpointing them) are sent again with no records, so actors that committed them answer
   * from their outbox (their alerts are written now, once) and actors that had not commit an
   * empty epoch. Their records were never acknowledged; the producer sends them again. Then
   * one more empty epoch proves that every actor has opened its store, so a foreign or
   * corrupt data folder fails here rather than on the first records.
   */
  async start (applied: number): Promise<void> {
    const last = Math.max(applied, this.open.number - 1) + 1;
    while (this.open.number <= last) {
      await this.run(() => this.cut(true));
    }
    await this.drain();
  }

  /**
   * Offers raw records in arrival order. Resolves once they have all entered epochs (an offer
   * waits here while the pipeline is full); `committed` then resolves once every epoch holding
   * them is applied and checkpointed.
   */
  async offer (items: readonly RawRecord[]): Promise<{ committed: Promise<Receipt> }> {
    const ticket = new Ticket();
    await this.run(async () => {
      this.throwIfFailed();
      for (let order = 0; order < items.length; order++) {
        const item = items[order]!;
        const epoch = this.open;
        const at = epoch.size++;
        epoch.owners.push({ ticket, order });
        if (!epoch.tickets.has(ticket)) { epoch.tickets.add(ticket); ticket.pending++; }
        if (!item.ok) {
          epoch.rejects.push({ index: at, reject: item.reject });
        } else {
          const prepared = this.ingest.prepare(item.value, item.position, item.text);
          if (!prepared.ok) {
            epoch.rejects.push({ index: at, reject: prepared.reject });
          } else {
            epoch.records.push(prepared.record);
            epoch.index.push(at);
            epoch.watermark.push(this.ingest.watermark);
            epoch.sources.set(at, { position: item.position, text: item.text });
          }
        }
        if (this.cutter.add(this.now())) await this.cut(false);
      }
      // An idle pipeline has nothing to batch behind: the epoch goes now (see cutsWhenIdle).
      if (this.inFlight.length === 0 && this.idleCut) await this.cut(false);
      else this.arm();
    });
    if (ticket.pending === 0) ticket.settle();
    return { committed: ticket.promise };
  }

  /** Cuts the open epoch now and waits until every epoch is written and checkpointed. */
  async drain (): Promise<void> {
    await this.run(() => this.cut(false));
    await this.settle();
    this.throwIfFailed();
  }

  /**
   * Runs `task` between two epochs, for a rules reload: offers and timer cuts wait (on the
   * lock, their bodies unread) while the open epoch is cut and every epoch in flight is
   * written and checkpointed; then `task` runs, and may replace the engine with use(). A
   * replaced engine gets one empty epoch before offers resume, which proves its actors open
   * (as start() does), whether `task` then succeeded or threw.
   */
  async pause<T> (task: () => Promise<T>): Promise<T> {
    let out: { value: T } | undefined;
    await this.run(async () => {
      await this.cut(false);
      await this.settle();
      this.throwIfFailed();
      this.replaced = false;
      try {
        out = { value: await task() };
      } finally {
        if (this.replaced) {
          await this.cut(true);
          await this.settle();
        }
      }
      this.throwIfFailed();
    });
    return out!.value;
  }

  /** Inside a pause() task: later epochs go to `engine`, records are validated by `ingest`. */
  use (engine: EpochEngine, ingest: Ingest): void {
    this.engine = engine;
    this.ingest = ingest;
    this.replaced = true;
  }

  /** Waits until every epoch cut so far is written and checkpointed. */
  private async settle (): Promise<void> {
    while (this.inFlight.length > 0 || this.saving !== undefined) {
      await this.completing;
      await this.saving;
    }
  }

  /** Stops the timer; in-flight epochs are not waited for (drain() first for that). */
  close (): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run (task: () => Promise<void>): Promise<void> {
    const next = this.lock.then(task);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private throwIfFailed (): void {
    if (this.error !== undefined) throw this.error;
  }

  /** Starts the timer for the open epoch's deadline, when it has records and none is set. */
  private arm (): void {
    const deadline = this.cutter.deadline;
    if (deadline === undefined || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // With every slot taken, sealing now would only make a small epoch wait for a slot
      // while holding up producers. The open epoch goes on filling instead and is cut the
      // moment a slot frees (complete()): under load epochs grow, and each commit is paid
      // for more records. Only a full epoch makes producers wait.
      if (this.inFlight.length < this.depth) this.cutSoon();
    }, Math.max(0, deadline - this.now()));
  }

  private cutSoon (): void {
    this.run(() => this.cut(false)).catch(() => undefined);
  }

  /** Seals the open epoch and sends it, after waiting for a free slot; `empty`: send it even without input. */
  private async cut (empty: boolean): Promise<void> {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    const epoch = this.open;
    if (epoch.size === 0 && !empty) return;
    this.throwIfFailed();
    const watermark = this.ingest.watermark;
    this.open = streamEpoch(epoch.number + 1);
    this.cutter.reset();
    while (this.inFlight.length >= this.depth) {
      await new Promise<void>((resolve) => { this.slotFreed = resolve; });
      this.throwIfFailed();
    }
    const result = this.engine.apply(epoch.number, epoch.records, epoch.index, epoch.watermark);
    result.catch(() => undefined); // handled in order by complete()
    const entry: InFlight = { epoch, result, watermark };
    this.inFlight.push(entry);
    this.completing = this.completing.then(() => this.complete(entry));
  }

  /** Writes one epoch's output (epochs complete strictly in order) and queues its checkpoint. */
  private async complete (entry: InFlight): Promise<void> {
    try {
      if (this.error !== undefined) return;
      const result = await entry.result;
      const mark = this.opts.sink.write(entry.epoch, result, epochRejects(entry.epoch, result));
      tally(entry.epoch, result);
      this.unsaved.push({ epoch: entry.epoch.number, watermark: entry.watermark, mark, tickets: entry.epoch.tickets });
      this.save();
    } catch (err) {
      this.fail(err);
    } finally {
      this.inFlight.shift();
      const freed = this.slotFreed;
      this.slotFreed = undefined;
      if (freed !== undefined) freed();
      else if (this.cutter.deadline !== undefined && ((this.idleCut && this.inFlight.length === 0) || (this.timer === undefined && this.cutter.due(this.now())))) this.cutSoon();
    }
  }

  /**
   * Checkpoints the newest finished epoch. Writes do not queue up: while one is under way,
   * epochs that finish meanwhile are covered together by the next one.
   */
  private save (): void {
    if (this.saving !== undefined || this.unsaved.length === 0) return;
    const batch = this.unsaved;
    this.unsaved = [];
    const newest = batch[batch.length - 1]!;
    const cp: Checkpoint = {
      epoch: newest.epoch,
      position: newest.epoch,
      watermark: newest.watermark,
      epochSize: STREAM_EPOCH_SIZE,
      shards: this.opts.shards,
      alertsBytes: newest.mark.alertsBytes,
      rejectsBytes: newest.mark.rejectsBytes,
    };
    const write = this.opts.checkpoint?.(cp) ?? Promise.resolve();
    this.saving = write.then(() => {
      this.lastCheckpointed = newest.epoch;
      this.engine.release(newest.epoch);
      for (const { tickets } of batch) {
        for (const ticket of tickets) if (--ticket.pending === 0) ticket.settle();
      }
    }, (err: unknown) => {
      this.fail(err);
    }).finally(() => {
      this.saving = undefined;
      this.save();
    });
  }

  private fail (err: unknown): void {
    if (this.error !== undefined) return;
    this.error = err;
    this.close();
    const tickets = new Set<Ticket>();
    for (const u of this.unsaved) for (const t of u.tickets) tickets.add(t);
    for (const f of this.inFlight) for (const t of f.epoch.tickets) tickets.add(t);
    for (const t of this.open.tickets) tickets.add(t);
    for (const t of tickets) t.reject(err);
    this.unsaved = [];
    const freed = this.slotFreed;
    this.slotFreed = undefined;
    freed?.();
    for (const listener of this.failedListeners) listener(err);
    this.failedListeners = [];
  }
}

/** Adds an applied epoch's outcome to the offers it holds: records accepted, rejected by ingest or by the engine. */
function tally (epoch: StreamEpoch, result: EpochResult): void {
  for (const at of epoch.index) epoch.owners[at]!.ticket.accepted++;
  for (const { index, reject } of epoch.rejects) {
    const owner = epoch.owners[index]!;
    owner.ticket.rejects.push({ order: owner.order, reject });
  }
  // A record sent to two actors (it feeds a spanning counter) may fail on both: count it once.
  const failed = new Set<number>();
  for (const f of result.failures) {
    const owner = epoch.owners[f.index];
    if (owner === undefined || failed.has(f.index)) continue;
    failed.add(f.index);
    owner.ticket.accepted--;
    const src = epoch.sources.get(f.index);
    owner.ticket.rejects.push({ order: owner.order, reject: { reason: f.reason, code: f.code, position: src?.position ?? { source: '?' }, raw: src?.text ?? '' } });
  }
}

function streamEpoch (n: number): StreamEpoch {
  return { ...newEpoch(n), owners: [], tickets: new Set() };
}
