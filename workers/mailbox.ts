/**
 * A shard actor's mailbox: a piscina pool of exactly one thread, so its messages are handled
 * in order by one owner. Up to `depth` batches are in the thread at once, so the next batch is
 * applied while the previous one's commit waits on LMDB; the queue behind them is bounded and
 * a full one is a MailboxFullError (the coordinator keeps below it and so pushes back on
 * ingest instead of growing without end). If the thread dies, piscina rejects its tasks and
 * starts a new thread, which reopens the store at the last committed epoch.
 */
import { Piscina } from 'piscina';
import { EngineError } from '../core/errors.js';
import type { ShardActorData, ShardMsg, ShardReply } from './protocol.js';

export class MailboxFullError extends EngineError {
  constructor (actor: number, options?: ErrorOptions) {
    super('VIGIL_MAILBOX_FULL', `shard actor ${actor}'s mailbox is full; the sender must wait for replies`, options);
  }
}

/** The thread died (or was killed) while it held the message; the message may be sent again. */
export class ActorCrashedError extends EngineError {
  constructor (actor: number, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('VIGIL_ENGINE_FAILED', `shard actor ${actor}'s thread stopped${cause}`, options);
  }
}

export interface MailboxOptions<D = ShardActorData> {
  readonly actor: number;
  /** the thread's workerData */
  readonly data: D;
  /** batches in the thread at once */
  readonly depth: number;
  /** the thread's module; tests swap in a misbehaving one */
  readonly filename?: string;
}

const DEFAULT_FILE = new URL('./shard/main.js', import.meta.url).href;

/** M, R: the messages the thread takes and its replies (the embedded actor's by default). */
export class Mailbox<M = ShardMsg, R = ShardReply, D = ShardActorData> {
  readonly actor: number;
  private readonly pool: Piscina;

  constructor (opts: MailboxOptions<D>) {
    this.actor = opts.actor;
    this.pool = new Piscina({
      filename: opts.filename ?? DEFAULT_FILE,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: opts.depth,
      maxQueue: opts.depth * 2,
      // The actor awaits LMDB commits inside a task; the thread must keep its event loop.
      atomics: 'disabled',
      idleTimeout: Number.MAX_SAFE_INTEGER,
      workerData: opts.data,
    });
  }

  /** `transferList`: buffers of `msg` moved to the thread instead of copied (gone here after). */
  async send (msg: M, transferList?: ArrayBuffer[]): Promise<R> {
    try {
      return await this.pool.run(msg, transferList === undefined ? undefined : { transferList }) as R;
    } catch (err) {
      if (err instanceof Error && err.message === 'Task queue is at limit') throw new MailboxFullError(this.actor, { cause: err });
      throw new ActorCrashedError(this.actor, { cause: err });
    }
  }

  async close (): Promise<void> {
    await this.pool.close();
  }
}
