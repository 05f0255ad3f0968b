/**
 * A shard actor's mailbox: a piscina pool of exactly one thread, so its messages are handled
 * in order by one owner. Up to `depth` batches are in the thread at once, so the next batch is
 * applied while the previous one's commit waits on LMDB; the queue behind them is bounded and
 * a full one is a MailboxFullError (the coordinator keeps below it and so pushes back on
 * ingest instead of growing without end). If the thread dies, piscina rejects its tasks and
 * starts a new thread, which reopens the store at the last committed epoch. restart() does
 * the same on purpose, for an actor that is alive but can go no further (its commit failed):
 * the pool is destroyed, its tasks rejected as a crash, and a fresh one started.
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
  /**
   * An error the thread threw outside any message (a stray callback): the thread ends and
   * piscina starts a new one, which reopens the store at its last commit. Without this, the
   * pool's 'error' event would go unheard and end the process. Default: one line on stderr.
   */
  readonly onError?: (err: Error) => void;
}

const DEFAULT_FILE = new URL('./shard/main.js', import.meta.url).href;

/** M, R: the messages the thread takes and its replies (the embedded actor's by default). */
export class Mailbox<M = ShardMsg, R = ShardReply, D = ShardActorData> {
  readonly actor: number;
  private readonly opts: MailboxOptions<D>;
  /** workerData of the threads started from now on (see setData) */
  private data: D;
  private pool: Piscina;
  private gen = 0;
  /** the restart under way: sends wait for the fresh pool */
  private restarting: Promise<void> | undefined;
  private closed = false;
  /** pools restart() replaced: their late 'error' events are answers nobody waits for */
  private readonly retired = new WeakSet<Piscina>();

  constructor (opts: MailboxOptions<D>) {
    this.actor = opts.actor;
    this.opts = opts;
    this.data = opts.data;
    this.pool = this.startPool();
  }

  private startPool (): Piscina {
    const { opts } = this;
    const pool = new Piscina({
      filename: opts.filename ?? DEFAULT_FILE,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: opts.depth,
      maxQueue: opts.depth * 2,
      // The actor awaits LMDB commits inside a task; the thread must keep its event loop.
      atomics: 'disabled',
      idleTimeout: Number.MAX_SAFE_INTEGER,
      workerData: this.data,
    });
    pool.on('error', (err: unknown) => {
      // Answers the old thread had already posted arrive after restart() destroyed its pool;
      // piscina emits each as an 'error' ("Unexpected message from Worker"): nothing failed.
      if (this.retired.has(pool)) return;
      const error = err instanceof Error ? err : new Error(String(err));
      if (opts.onError !== undefined) opts.onError(error);
      else process.stderr.write(`vigil: shard actor ${opts.actor}'s thread failed outside a message and is restarted from its last commit: ${error.message}\n`);
    });
    return pool;
  }

  /**
   * Counts restarts: a reply (or a crash) from a generation older than this one came from a
   * thread already replaced, so whoever restarts on a failure restarts only if the generation
   * it sent to is still this one. Read it just before send().
   */
  get generation (): number { return this.gen; }

  /**
   * The workerData of every thread started from now on: by restart(), and by piscina itself
   * when the thread dies (it reads its options' workerData for each new thread). Rules changed in
   * place (a limits-only reload) must reach the thread that replaces a crashed one.
   */
  get workerData (): D { return this.data; }

  setData (data: D): void {
    this.data = data;
    (this.pool.options as { workerData: unknown }).workerData = data;
  }

  /** `transferList`: buffers of `msg` moved to the thread instead of copied (gone here after). */
  async send (msg: M, transferList?: ArrayBuffer[]): Promise<R> {
    while (this.restarting !== undefined) await this.restarting;
    // A closed pool would start a thread again for the task (a resend after a backoff, say).
    if (this.closed) throw new EngineError('VIGIL_ENGINE_FAILED', `shard actor ${this.actor}'s mailbox is closed`);
    try {
      return await this.pool.run(msg, transferList === undefined ? undefined : { transferList }) as R;
    } catch (err) {
      if (err instanceof Error && err.message === 'Task queue is at limit') throw new MailboxFullError(this.actor, { cause: err });
      throw new ActorCrashedError(this.actor, { cause: err });
    }
  }

  /**
   * Ends the thread and starts a fresh one with the same options, which reopens the store at
   * its last commit. The messages the old thread held are rejected with ActorCrashedError, as
   * if it had died; sends made meanwhile wait for the new pool. Resolves once it is in place
   * (its thread then opens the store; the messages it is sent wait there for that). A closed
   * mailbox gets no new pool.
   */
  restart (): Promise<void> {
    this.gen++;
    const before = this.restarting ?? Promise.resolve();
    const restarting: Promise<void> = before.then(async () => {
      const old = this.pool;
      this.retired.add(old);
      await old.destroy().catch(() => undefined);
      // Closed meanwhile (a failure seen as the engine stops): a new thread would outlive it.
      if (!this.closed) this.pool = this.startPool();
    }).finally(() => {
      if (this.restarting === restarting) this.restarting = undefined;
    });
    this.restarting = restarting;
    return restarting;
  }

  async close (): Promise<void> {
    this.closed = true;
    while (this.restarting !== undefined) await this.restarting;
    await this.pool.close();
  }
}
