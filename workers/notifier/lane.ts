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
 *   not hold up the others.
 * - `rate: N/I`: at most N messages start in any window of length I. When alerts wait and only
 *   one slot is left, they go out together as one digest: folded, never dropped.
 * - `digest: D`: one message at a time, D after the oldest waiting alert arrived and at least D
 *   after the previous digest, folding everything waiting (up to `maxDigest`).
 * Lanes never wait on each other: a slow channel slows only its own queue.
 */
import type { Alert } from '../../core/alert.js';
import type { Channel } from '../channels/types.js';

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

export interface LaneEntry {
  readonly seq: number;
  readonly id: string;
  readonly enqueuedAt: number;
  attempts: number;
  /** not tried again before this time (its own back-off) */
  nextAt: number;
  inFlight: boolean;
}

export interface LaneDeps {
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  readonly maxDigest: number;
  /** the alert of a queued entry, from the outbox */
  readonly load: (seq: number) => Alert | undefined;
  readonly delivered: (seqs: readonly number[]) => void;
  readonly dead: (entries: readonly LaneEntry[], error: string) => void;
  readonly log: (event: Record<string, unknown>) => void;
  /** one finished delivery attempt (for spans); `first` is its first entry's seq */
  readonly attempted?: (a: { first: number, alerts: number, attempt: number, start: number, end: number, error?: string }) => void;
}

/** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base * 2^(n-1))). */
export function backoffMs (n: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, n - 1)));
}

export class Lane {
  readonly channel: Channel;
  private readonly deps: LaneDeps;
  /** by alert id, in enqueue order (a Map keeps insertion order) */
  private readonly entries = new Map<string, LaneEntry>();
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

  constructor (channel: Channel, deps: LaneDeps) {
    this.channel = channel;
    this.deps = deps;
  }

  get queued (): number { return this.entries.size; }
  get busy (): number { return this.inFlight; }
  get consecutiveFailures (): number { return this.failures; }
  get state (): 'idle' | 'delivering' | 'backing-off' {
    if (this.failures > 0) return 'backing-off';
    return this.entries.size > 0 ? 'delivering' : 'idle';
  }

  has (id: string): boolean { return this.entries.has(id); }

  add (entries: ReadonlyArray<{ seq: number, id: string, enqueuedAt: number }>): void {
    for (const e of entries) {
      if (!this.entries.has(e.id)) this.entries.set(e.id, { seq: e.seq, id: e.id, enqueuedAt: e.enqueuedAt, attempts: 0, nextAt: 0, inFlight: false });
    }
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

  /** Starts one message and returns 0, or returns when to look again (Infinity: nothing to send). */
  private startNext (now: number): number {
    const { rate, digestMs } = this.channel.common;
    let slots = Infinity;
    if (rate !== undefined) {
      while (this.starts.length > 0 && this.starts[0]! <= now - rate.perMs) this.starts.shift();
      slots = rate.count - this.starts.length;
      if (slots <= 0) return this.entries.size > 0 ? this.starts[0]! + rate.perMs : Infinity;
    }
    const max = this.deps.maxDigest;
    if (digestMs !== undefined) {
      const batch: LaneEntry[] = [];
      for (const e of this.entries.values()) {
        if (e.inFlight) continue;
        batch.push(e);
        if (batch.length >= max) break;
      }
      if (batch.length === 0) return Infinity;
      const dueAt = Math.max(batch[0]!.enqueuedAt, this.lastDigestAt) + digestMs;
      // After a failure the pause above governs, not the interval.
      if (this.failures === 0 && now < dueAt) return dueAt;
      this.start(batch, true, now);
      return 0;
    }
    // Without a digest: one alert per message, except that the last free slot of a rate
    // carries everything waiting.
    const want = slots === 1 ? max : 1;
    const due: LaneEntry[] = [];
    let nextDue = Infinity;
    for (const e of this.entries.values()) {
      if (e.inFlight) continue;
      if (e.nextAt > now) { if (e.nextAt < nextDue) nextDue = e.nextAt; continue; }
      due.push(e);
      if (due.length >= want) break;
    }
    if (due.length === 0) return nextDue;
    this.start(due, due.length > 1, now);
    return 0;
  }

  private start (batch: LaneEntry[], digest: boolean, now: number): void {
    const alerts: Alert[] = [];
    const missing: LaneEntry[] = [];
    for (const e of batch) {
      const a = this.deps.load(e.seq);
      if (a === undefined) missing.push(e); else alerts.push(a);
    }
    // An entry gone from the outbox was delivered or buried by an earlier run; forget it.
    for (const e of missing) this.entries.delete(e.id);
    const sent = batch.filter((e) => !missing.includes(e));
    if (sent.length === 0) return;
    for (const e of sent) e.inFlight = true;
    this.inFlight++;
    if (this.channel.common.rate !== undefined) this.starts.push(now);
    if (digest || this.channel.common.digestMs !== undefined) this.lastDigestAt = now;
    const started = performance.timeOrigin + performance.now();
    const attempt = 1 + Math.max(...sent.map((e) => e.attempts));
    const report = (error?: string): void => {
      this.deps.attempted?.({ first: sent[0]!.seq, alerts: sent.length, attempt, start: started, end: performance.timeOrigin + performance.now(), ...(error === undefined ? {} : { error }) });
    };
    const run = this.channel.sender.send(alerts, digest || this.channel.common.digestMs !== undefined)
      .then(() => { report(); this.succeeded(sent); }, (err: unknown) => { report(this.channel.redactor.redact(err instanceof Error ? err.message : String(err))); this.failed(sent, err); });
    this.running.add(run);
    run.finally(() => this.running.delete(run)).catch(() => {});
  }

  private succeeded (batch: readonly LaneEntry[]): void {
    this.inFlight--;
    for (const e of batch) this.entries.delete(e.id);
    this.deps.delivered(batch.map((e) => e.seq));
    this.delivered += batch.length;
    this.messages++;
    if (this.failures > 0) this.deps.log({ level: 'info', msg: 'channel delivering again', channel: this.channel.name, target: this.channel.target, after: this.failures });
    this.failures = 0;
    this.pausedUntil = 0;
    this.pump();
  }

  private failed (batch: readonly LaneEntry[], err: unknown): void {
    const { clock, random, backoffBaseMs: base, backoffCapMs: cap } = this.deps;
    const now = clock.now();
    this.inFlight--;
    this.failedAttempts++;
    const message = this.channel.redactor.redact(err instanceof Error ? err.message : String(err));
    this.lastError = message;
    this.lastErrorAt = now;
    for (const e of batch) {
      e.inFlight = false;
      e.attempts++;
      e.nextAt = now + backoffMs(e.attempts, base, cap, random);
    }
    if (this.failures === 0) this.deps.log({ level: 'warn', msg: 'channel failing, backing off', channel: this.channel.name, target: this.channel.target, error: message });
    this.failures++;
    this.pausedUntil = now + backoffMs(this.failures, base, cap, random);
    const expired: LaneEntry[] = [];
    const maxMs = this.channel.common.retryMaxMs;
    for (const e of this.entries.values()) if (!e.inFlight && now - e.enqueuedAt >= maxMs) expired.push(e);
    if (expired.length > 0) {
      for (const e of expired) this.entries.delete(e.id);
      this.deps.dead(expired, message);
      this.deps.log({ level: 'error', msg: 'alerts moved to the dead letters', channel: this.channel.name, count: expired.length, error: message });
    }
    this.pump();
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
    }, Math.max(0, at - now));
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
