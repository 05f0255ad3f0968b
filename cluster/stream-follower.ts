/**
 * Reads a JetStream stream in order from a position its reader keeps itself, handing batches
 * of messages to `apply`, one batch at a time. Used by every notifier to build its replicas:
 * the blocklist from the blocks stream, the alert history from the alerts stream.
 *
 * An ordered consumer, not a durable one: the position lives in the reader's LMDB, written in
 * the same transaction as what it applies (a durable consumer's acknowledgement cannot share
 * that transaction), and an ephemeral consumer leaves nothing behind on the servers when a
 * notifier goes away for good. A consumer that is lost (its server died, heartbeats stopped, or
 * it says messages wait but delivers none, as the lanes see it) or an apply that fails ends the
 * read, and it is opened again from `from()` after a pause: nothing is skipped, and an apply
 * that skips what is at or below its stored position applies nothing twice.
 */
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JsMsg } from '../workers/nats-client.js';
import { CONSUMER_EXPIRES_MS, REOPEN_MS, STALL_MS, watchConsumer } from './jetstream.js';

/** Where a read begins: after the sequence last applied, or (nothing applied yet) at a time. */
export type StartAt = { readonly afterSeq: number } | { readonly sinceMs: number };

export interface FollowOptions {
  readonly js: JetStreamClient;
  readonly stream: string;
  /** asked at every (re)open: the reader's stored position */
  readonly from: () => StartAt;
  /** applies a batch in stream order and stores its last sequence with it */
  readonly apply: (msgs: readonly JsMsg[]) => Promise<void>;
  /** what is read, for log lines: "the blocks stream" */
  readonly what: string;
  readonly log: (event: Record<string, unknown>) => void;
}

/** messages buffered by the client and applied in one batch at most */
const BATCH = 256;

export class StreamFollower {
  private readonly opts: FollowOptions;
  private messages: ConsumerMessages | undefined;
  private closed = false;
  private running: Promise<void> = Promise.resolve();
  /** what the last message said still waits in the stream after it, and when it came */
  private pending = 0;
  private lastMessageAt = 0;
  /** set when the consumer, asked after a silence, says messages wait (or cannot answer) */
  private stuck = false;

  private constructor (opts: FollowOptions) {
    this.opts = opts;
  }

  /** Starts reading; close() stops. */
  static start (opts: FollowOptions): StreamFollower {
    const follower = new StreamFollower(opts);
    follower.running = follower.supervise();
    return follower;
  }

  private async supervise (): Promise<void> {
    const { js, stream, what, log } = this.opts;
    while (!this.closed) {
      try {
        const at = this.opts.from();
        const after = 'afterSeq' in at ? at.afterSeq : await this.seqBefore(at.sinceMs);
        if (this.closed) return;
        const consumer = await js.consumers.get(stream, after > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 } : { deliver_policy: DeliverPolicy.All });
        if (this.closed) return;
        this.messages = await consumer.consume({ max_messages: BATCH, expires: CONSUMER_EXPIRES_MS });
        this.pending = 0;
        this.lastMessageAt = Date.now();
        this.stuck = false;
        const unwatch = watchConsumer(this.messages, () => this.stuck || (this.pending > 0 && Date.now() - this.lastMessageAt > STALL_MS));
        // A reader that was caught up hears nothing from a consumer that is gone without the
        // client noticing (its monitor is not restarted when a reconnect's check fails): after
        // a silence, the consumer is asked whether messages wait.
        const probe = setInterval(() => {
          if (Date.now() - this.lastMessageAt < STALL_MS) return;
          consumer.info(false).then((ci) => { if (ci.num_pending > 0) this.stuck = true; }, () => { this.stuck = true; });
        }, STALL_MS / 2);
        probe.unref();
        try {
          await this.loop(this.messages);
        } finally {
          clearInterval(probe);
          unwatch();
        }
        if (!this.closed) log({ warning: `the consumer of ${what} ended; opening it again from the position applied` });
      } catch (err) {
        if (!this.closed) log({ error: `reading ${what} failed, opening it again from the position applied: ${err instanceof Error ? err.message : String(err)}` });
      }
      if (!this.closed) await new Promise((resolve) => setTimeout(resolve, REOPEN_MS));
    }
  }

  /**
   * The sequence of the last message stored before `sinceMs`, as a consumer started at that
   * time reports it (nothing delivered yet). The read itself then starts at a sequence: an
   * ordered consumer created by start time cannot be recreated by the client after a loss
   * (nats.js keeps the start time beside the sequence it resumes from, and the server refuses
   * both), which left a fresh notifier's history silent after a NATS restart.
   */
  private async seqBefore (sinceMs: number): Promise<number> {
    const probe = await this.opts.js.consumers.get(this.opts.stream, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Math.max(0, sinceMs)).toISOString() });
    try {
      return (await probe.info(true)).delivered.stream_seq;
    } finally {
      await probe.delete().catch(() => undefined);
    }
  }

  /**
   * Collects what arrives in one turn of the event loop into a batch, and applies batches one
   * after the other. After a failed apply no later batch is applied (it would leave a gap):
   * the read ends and starts again from the stored position.
   */
  private async loop (messages: ConsumerMessages): Promise<void> {
    let batch: JsMsg[] = [];
    let applying: Promise<void> = Promise.resolve();
    let failed: unknown;
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      const msgs = batch;
      batch = [];
      if (msgs.length === 0) return;
      applying = applying.then(async () => {
        if (failed !== undefined || this.closed) return;
        try {
          await this.opts.apply(msgs);
        } catch (err) {
          failed = err;
          messages.close().catch(() => undefined);
        }
      });
    };
    for await (const m of messages) {
      if (failed !== undefined) break;
      this.lastMessageAt = Date.now();
      this.pending = m.info.pending;
      batch.push(m);
      if (batch.length >= BATCH) flush();
      else if (!scheduled) { scheduled = true; setImmediate(flush); }
    }
    flush();
    await applying;
    if (failed !== undefined) throw failed;
  }

  async close (): Promise<void> {
    this.closed = true;
    await this.messages?.close().catch(() => undefined);
    await this.running;
  }
}
