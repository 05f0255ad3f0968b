/**
 * One channel's delivery queue. Takes entries already durable in the outbox, sends them as
 * messages (one alert each, or a digest folding several) with at most `concurrency` in flight,
 * and reports each outcome: delivered entries are removed from the outbox, entries still
 * undelivered `retry.max` after they were enqueued become dead letters.
 *
 * - Back-off: after a failure the channel pauses for a full-jitter delay, uniform in
 *   [0, min(cap, base * 2^(failures - 1))), and sends one message at a time until one goes
 *   through. So a dead receiver costs one attempt per pause, not one per queued alert. The
 *   failed entries also back off on their own, so one alert the receiver keeps refusing does
 *   not hold up the others. A partial refusal (a mail some recipients took and others refused)
 *   backs off only its entries: the receiver is up, and pausing the channel for a typo'd
 *   address would hold up every alert, each failing the same way.
 * - `rate: N/I`: at most N messages start in any window of length I. When alerts wait and only
 *   one slot is left, they go out together as one digest: folded, never dropped.
 * - `digest: D`: one message at a time, D after the oldest waiting alert arrived and at least D
 *   after the previous digest, folding everything waiting (up to `maxDigest`).
 * Lanes never wait on each other: a slow channel slows only its own queue. Entries never tried
 * stay in their batch's bitmap, so a queue of 10,000 alerts on a dead channel is a few bitmaps
 * and a set of ids, not 10,000 objects; only entries taken for a message, and those that
 * failed (a few: one per pause while the channel is down), are objects.
 */
import type { Alert } from '../../core/alert.js';
import { DeliveryError } from '../channels/errors.js';
import type { Channel } from '../channels/types.js';
import { BATCH_MAX, type Pacing } from './outbox.js';

export interface Clock {
  now (): number;
  setTimer (fn: () => void, ms: number): unknown;
  clearTimer (handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => { clearTimeout(h as NodeJS.Timeout); },
};

/** An entry taken out of its batch's bitmap: in flight, or failed and waiting for its own retry. */
export interface LaneEntry {
  readonly seq: number;
  readonly enqueuedAt: number;
  attempts: number;
  /** not tried again before this time (its own back-off) */
  nextAt: number;
  inFlight: boolean;
}

/** One batch's entries not tried yet: bit i set = alert i of the batch waits; bits below `next` are taken. */
interface Waiting {
  readonly batch: number;
  readonly bits: Uint8Array;
  readonly enqueuedAt: number;
  next: number;
  left: number;
}

export interface LaneDeps {
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  readonly maxDigest: number;
  /** the alert of a queued entry, from the outbox */
  readonly load: (seq: number) => Alert | undefined;
  /** entries the channel accepted, or that turned out to be already queued: out of the outbox */
  readonly delivered: (seqs: readonly number[]) => void;
  readonly dead: (entries: readonly LaneEntry[], error: string) => void;
  readonly log: (event: Record<string, unknown>) => void;
  /** the pacing a previous run left (recent message starts, the last digest's start) */
  readonly paced?: Pacing | undefined;
  /** keeps the pacing after each start of a message, when the channel has `rate` or `digest` */
  readonly pace?: (pacing: Pacing) => void;
  /** one finished delivery attempt (for spans); `first` is its first entry's seq */
  readonly attempted?: (a: { first: number, alerts: number, attempt: number, start: number, end: number, error?: string }) => void;
}

/**
 * The longest delay setTimeout keeps (2^31-1 ms, 24.8 days); it runs a longer one after 1 ms. A
 * hold beyond it (`rate: 1/30d`, `digest: 30d`) waits this long, looks again and waits again.
 */
const MAX_TIMER_MS = 2_147_483_647;

const nextBit = (bits: Uint8Array, from: number): number => {
  const end = bits.length * 8;
  for (let i = from; i < end;) {
    const byte = bits[i >> 3]!;
    if (byte === 0) { i = (i | 7) + 1; continue; }
    if ((byte & (1 << (i & 7))) !== 0) return i;
    i++;
  }
  return -1;
};

/** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base * 2^(n-1))). */
export function backoffMs (n: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, n - 1)));
}

export class Lane {
  readonly channel: Channel;
  private readonly deps: LaneDeps;
  /** batches' entries never tried, in enqueue order */
  private readonly waiting: Waiting[] = [];
  /** entries that failed at least once, by seq, in the order they first failed */
  private readonly retrying = new Map<number, LaneEntry>();
  /** ids queued here or being committed for here: an alert is queued once per channel */
  private readonly ids = new Set<string>();
  private count = 0;
  private inFlight = 0;
  private failures = 0;
  private pausedUntil = 0;
  private lastDigestAt = 0;
  /** start times of recent messages, for `rate` */
  private readonly starts: number[] = [];
  private timer: unknown;
  private timerAt = Infinity;
  private closing = false;
  private readonly running = new Set<Promise<void>>();
  delivered = 0;
  messages = 0;
  failedAttempts = 0;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  /** the last partial refusal logged, so that a recipient refusing every alert is logged once */
  private lastPartial: string | undefined;

  constructor (channel: Channel, deps: LaneDeps) {
    this.channel = channel;
    this.deps = deps;
    if (deps.paced !== undefined) {
      // A time after now comes from a clock that was ahead and has been set back: kept, it
      // would hold the channel until the clock caught up with it.
      const now = deps.clock.now();
      this.starts.push(...deps.paced.starts.filter((t) => t <= now).sort((a, b) => a - b));
      this.lastDigestAt = Math.min(deps.paced.lastDigestAt, now);
    }
  }

  /** entries in the queue: waiting, in flight or retrying */
  get queued (): number { return this.count; }
  get busy (): number { return this.inFlight; }
  get consecutiveFailures (): number { return this.failures; }
  get state (): 'idle' | 'delivering' | 'backing-off' {
    if (this.failures > 0) return 'backing-off';
    return this.count > 0 ? 'delivering' : 'idle';
  }

  has (id: string): boolean { return this.ids.has(id); }

  /** Claims an alert id before its entry is committed; false if it is queued here already. */
  reserve (id: string): boolean {
    // One hash lookup instead of has() then add(): a burst claims 10,000 ids in a set that
    // holds every queued one (the notifier's largest cost per alert in bench/notify).
    const before = this.ids.size;
    return this.ids.add(id).size !== before;
  }

  /** Gives up a claim whose commit failed. */
  unreserve (id: string): void { this.ids.delete(id); }

  /**
   * Queues a batch's entries (bit i: the batch's alert i). `reserved`: their ids were claimed
   * with reserve(); otherwise (a restart, a redrive) an id already queued here is dropped from
   * the outbox instead of being queued twice.
   */
  add (batch: number, bits: Uint8Array, enqueuedAt: number, reserved: boolean): void {
    let left = 0;
    const dropped: number[] = [];
    for (let i = nextBit(bits, 0); i >= 0; i = nextBit(bits, i + 1)) {
      if (!reserved) {
        const id = this.deps.load(batch * BATCH_MAX + i)?.id;
        if (id === undefined || this.ids.has(id)) {
          bits[i >> 3]! &= ~(1 << (i & 7));
          if (id !== undefined) dropped.push(batch * BATCH_MAX + i);
          continue;
        }
        this.ids.add(id);
      }
      left++;
    }
    if (dropped.length > 0) this.deps.delivered(dropped);
    if (left === 0) return;
    this.waiting.push({ batch, bits, enqueuedAt, next: 0, left });
    this.count += left;
    this.pump();
  }

  /** Starts what may start now and sets the timer for the next moment something may. */
  pump (): void {
    if (this.closing) return;
    const now = this.deps.clock.now();
    if (now < this.pausedUntil) { this.arm(this.pausedUntil, now); return; }
    const limit = this.failures > 0 || this.channel.common.digestMs !== undefined ? 1 : this.channel.concurrency;
    while (this.inFlight < limit) {
      const wake = this.startNext(now);
      if (wake !== 0) { this.arm(wake, now); return; }
    }
  }

  /** The enqueue time of the oldest entry not in flight (Infinity: none). */
  private oldest (): number {
    let at = Infinity;
    for (const e of this.retrying.values()) if (!e.inFlight) { at = e.enqueuedAt; break; }
    const w = this.waiting[0];
    return w === undefined ? at : Math.min(at, w.enqueuedAt);
  }

  /** Up to `want` entries not in flight, oldest first; `due`: only those past their own back-off. Sets `nextDue`. */
  private take (want: number, now: number, due: boolean): LaneEntry[] {
    const out: LaneEntry[] = [];
    this.nextDue = Infinity;
    for (const e of this.retrying.values()) {
      if (e.inFlight) continue;
      if (due && e.nextAt > now) { if (e.nextAt < this.nextDue) this.nextDue = e.nextAt; continue; }
      out.push(e);
      if (out.length >= want) return out;
    }
    while (out.length < want && this.waiting.length > 0) {
      const w = this.waiting[0]!;
      const i = w.left === 0 ? -1 : nextBit(w.bits, w.next);
      if (i < 0) { this.waiting.shift(); continue; }
      w.next = i + 1;
      w.left--;
      out.push({ seq: w.batch * BATCH_MAX + i, enqueuedAt: w.enqueuedAt, attempts: 0, nextAt: 0, inFlight: false });
    }
    return out;
  }

  private nextDue = Infinity;

  /** Starts one message and returns 0, or returns when to look again (Infinity: nothing to send). */
  private startNext (now: number): number {
    const { rate, digestMs } = this.channel.common;
    let slots = Infinity;
    if (rate !== undefined) {
      while (this.starts.length > 0 && this.starts[0]! <= now - rate.perMs) this.starts.shift();
      slots = rate.count - this.starts.length;
      if (slots <= 0) return this.count > this.inFlightEntries ? this.starts[0]! + rate.perMs : Infinity;
    }
    const max = this.deps.maxDigest;
    if (digestMs !== undefined) {
      const oldest = this.oldest();
      if (oldest === Infinity) return Infinity;
      const dueAt = Math.max(oldest, this.lastDigestAt) + digestMs;
      // After a failure the pause above governs, not the interval.
      if (this.failures === 0 && now < dueAt) return dueAt;
      const batch = this.take(max, now, false);
      if (batch.length === 0) return Infinity;
      this.start(batch, true, now);
      return 0;
    }
    // Without a digest: one alert per message, except that the last free slot of a rate
    // carries everything waiting.
    const due = this.take(slots === 1 ? max : 1, now, true);
    if (due.length === 0) return this.nextDue;
    this.start(due, due.length > 1, now);
    return 0;
  }

  /** entries in flight (a digest carries several) */
  private inFlightEntries = 0;

  /** Forgets entries (delivered, buried or gone from the outbox). */
  private drop (entries: readonly LaneEntry[], ids: ReadonlyArray<string | undefined>): void {
    for (const e of entries) this.retrying.delete(e.seq);
    for (const id of ids) if (id !== undefined) this.ids.delete(id);
    this.count -= entries.length;
  }

  private start (batch: LaneEntry[], digest: boolean, now: number): void {
    const alerts: Alert[] = [];
    const sent: LaneEntry[] = [];
    const missing: LaneEntry[] = [];
    for (const e of batch) {
      const a = this.deps.load(e.seq);
      if (a === undefined) missing.push(e); else { alerts.push(a); sent.push(e); }
    }
    // An entry gone from the outbox was delivered or buried by an earlier run; forget it.
    if (missing.length > 0) this.drop(missing, []);
    if (sent.length === 0) return;
    for (const e of sent) e.inFlight = true;
    this.inFlight++;
    this.inFlightEntries += sent.length;
    // The rate counts from when the message really starts: loading its alerts (a batch read
    // and unpacked from LMDB) can take a while on a busy machine, and counting from before it
    // let two starts come closer than the rate allows.
    if (this.channel.common.rate !== undefined) this.starts.push(Math.max(now, this.deps.clock.now()));
    if (digest || this.channel.common.digestMs !== undefined) this.lastDigestAt = now;
    if (this.channel.common.rate !== undefined || this.channel.common.digestMs !== undefined) this.deps.pace?.({ starts: this.starts.slice(), lastDigestAt: this.lastDigestAt });
    const started = performance.timeOrigin + performance.now();
    let attempt = 1;
    for (const e of sent) if (e.attempts + 1 > attempt) attempt = e.attempts + 1;
    const report = (error?: string): void => {
      this.deps.attempted?.({ first: sent[0]!.seq, alerts: sent.length, attempt, start: started, end: performance.timeOrigin + performance.now(), ...(error === undefined ? {} : { error }) });
    };
    const run = this.channel.sender.send(alerts, digest || this.channel.common.digestMs !== undefined)
      .then(() => { report(); this.succeeded(sent, alerts); }, (err: unknown) => { report(this.channel.redactor.redact(err instanceof Error ? err.message : String(err))); this.failed(sent, err); });
    this.running.add(run);
    run.finally(() => this.running.delete(run)).catch(() => {});
  }

  private succeeded (batch: readonly LaneEntry[], alerts: readonly Alert[]): void {
    this.inFlight--;
    this.inFlightEntries -= batch.length;
    this.drop(batch, alerts.map((a) => a.id));
    this.deps.delivered(batch.map((e) => e.seq));
    this.delivered += batch.length;
    this.messages++;
    if (this.failures > 0) this.deps.log({ level: 'info', msg: 'channel delivering again', channel: this.channel.name, target: this.channel.target, after: this.failures });
    this.failures = 0;
    this.lastPartial = undefined;
    this.pausedUntil = 0;
    this.pump();
  }

  private failed (batch: readonly LaneEntry[], err: unknown): void {
    const { clock, random, backoffBaseMs: base, backoffCapMs: cap } = this.deps;
    const now = clock.now();
    this.inFlight--;
    this.inFlightEntries -= batch.length;
    this.failedAttempts++;
    const message = this.channel.redactor.redact(err instanceof Error ? err.message : String(err));
    this.lastError = message;
    this.lastErrorAt = now;
    for (const e of batch) {
      e.inFlight = false;
      e.attempts++;
      e.nextAt = now + backoffMs(e.attempts, base, cap, random);
      this.retrying.set(e.seq, e);
    }
    if (err instanceof DeliveryError && err.partial) {
      // Some recipients took the message and others refused it (a typo'd mail address): the
      // receiver is up, so only these entries back off. Pausing the channel would hold up every
      // alert, since each one fails the same way. Said once until the words change.
      if (message !== this.lastPartial) this.deps.log({ level: 'warn', msg: 'some recipients refused, retried for them alone', channel: this.channel.name, target: this.channel.target, error: message });
      this.lastPartial = message;
    } else {
      if (this.failures === 0) this.deps.log({ level: 'warn', msg: 'channel failing, backing off', channel: this.channel.name, target: this.channel.target, error: message });
      this.failures++;
      this.pausedUntil = now + backoffMs(this.failures, base, cap, random);
    }
    const expired = this.expire(now);
    if (expired.length > 0) {
      this.deps.dead(expired, message);
      this.deps.log({ level: 'error', msg: 'alerts moved to the dead letters', channel: this.channel.name, count: expired.length, error: message });
    }
    this.pump();
  }

  /** Takes out every entry not in flight that entered the outbox `retry.max` ago or earlier. */
  private expire (now: number): LaneEntry[] {
    const maxMs = this.channel.common.retryMaxMs;
    const expired: LaneEntry[] = [];
    for (const e of this.retrying.values()) if (!e.inFlight && now - e.enqueuedAt >= maxMs) expired.push(e);
    for (let k = 0; k < this.waiting.length; k++) {
      const w = this.waiting[k]!;
      if (now - w.enqueuedAt < maxMs) continue;
      for (let i = w.left === 0 ? -1 : nextBit(w.bits, w.next); i >= 0; i = nextBit(w.bits, i + 1)) {
        expired.push({ seq: w.batch * BATCH_MAX + i, enqueuedAt: w.enqueuedAt, attempts: 0, nextAt: 0, inFlight: false });
      }
      this.waiting.splice(k--, 1);
    }
    if (expired.length > 0) this.drop(expired, expired.map((e) => this.deps.load(e.seq)?.id));
    return expired;
  }

  private arm (at: number, now: number): void {
    if (at === Infinity || this.closing) return;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timerAt = at;
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - now)));
  }

  /** Stops starting messages and waits up to `graceMs` for those under way. */
  async close (graceMs: number): Promise<void> {
    this.closing = true;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.running.size > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.running]), new Promise((resolve) => { t = setTimeout(resolve, graceMs); })]);
      clearTimeout(t);
    }
    await this.channel.sender.close();
  }
}
