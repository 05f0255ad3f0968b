/**
 * When a cluster node withdraws because its data folder keeps failing commits (a full disk,
 * EIO). A lane whose commit fails is dropped and reopened from its last commit at the next
 * tick, by the same node: rendezvous hashing keeps preferring a node whose heartbeat is live,
 * so without withdrawing, a node whose folder cannot be written would hold its shards forever
 * and count nothing. Counting store failures in a row and withdrawing (the heartbeat goes, the
 * shards move to the nodes that can commit) is decided here; shard-node.ts does it.
 */

/**
 * Store failures of a node's lanes in a row before it withdraws. One is not enough (a single
 * failed commit may be a passing I/O error; the lane reopens and goes on), but a folder that
 * refuses every commit fails every lane the node holds at its first apply, so the bound is
 * reached within a tick or two.
 */
export const STORE_FAILURES_TO_WITHDRAW = 3;
/** The first withdrawal's length in production; each withdrawal in a row doubles it. */
export const WITHDRAW_BASE_MS = 30_000;
/** The longest withdrawal: a node whose disk was freed comes back within this long. */
export const WITHDRAW_CAP_MS = 10 * 60_000;

export interface WithdrawOptions {
  readonly bound?: number;
  readonly baseMs?: number;
  readonly capMs?: number;
}

/**
 * Counts store failures in a row and says when to withdraw and for how long. Pure: the node
 * feeds it its lanes' outcomes. A successful commit (an apply that counted something) resets
 * the count and the backoff: the folder works again. Withdrawals without one in between double
 * the backoff up to the cap.
 */
export class StoreFailures {
  /** failures in a row that withdraw the node */
  readonly bound: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  /** store failures since the last successful commit (or the last withdrawal) */
  private inRow = 0;
  /** withdrawals since the last successful commit */
  private withdrawals = 0;

  constructor (opts: WithdrawOptions = {}) {
    this.bound = Math.max(1, opts.bound ?? STORE_FAILURES_TO_WITHDRAW);
    this.baseMs = Math.max(0, opts.baseMs ?? WITHDRAW_BASE_MS);
    this.capMs = Math.max(this.baseMs, opts.capMs ?? WITHDRAW_CAP_MS);
  }

  /** store failures in a row so far */
  get count (): number { return this.inRow; }

  /** A lane committed: the folder works. */
  succeeded (): void {
    this.inRow = 0;
    this.withdrawals = 0;
  }

  /**
   * A lane's commit failed. Returns how long to withdraw for (ms) when this failure reaches
   * the bound, and starts counting anew; otherwise undefined.
   */
  failed (): number | undefined {
    this.inRow++;
    if (this.inRow < this.bound) return undefined;
    this.inRow = 0;
    const ms = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.withdrawals, 30));
    this.withdrawals++;
    return ms;
  }
}
