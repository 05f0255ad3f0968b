/**
 * Group commit, the way databases batch their log writes: what is handed in while a write is
 * under way waits for it, then goes with everything handed in meanwhile in the next write, one
 * write at a time, in order. Idle, each item is written at once and alone; under load the
 * writes grow instead of queueing, so the store's per-transaction cost stops setting the pace.
 */
export class GroupCommit<T> {
  private readonly write: (group: T[]) => Promise<void>;
  private waiting: Array<{ item: T, done: (err?: unknown) => void }> = [];
  private writing = false;

  /**
   * `write` is called with each group, oldest item first, and starts synchronously: what it
   * reads before its first await reflects exactly the items of its group.
   */
  constructor (write: (group: T[]) => Promise<void>) {
    this.write = write;
  }

  /** Resolves once the write holding `item` has finished; rejects with that write's error. */
  add (item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, done: (err) => { if (err === undefined) resolve(); else reject(err); } });
      this.flush();
    });
  }

  private flush (): void {
    if (this.writing || this.waiting.length === 0) return;
    const group = this.waiting;
    this.waiting = [];
    this.writing = true;
    let written: Promise<void>;
    try {
      written = this.write(group.map((g) => g.item));
    } catch (err) {
      written = Promise.reject(err);
    }
    written.then(
      () => { for (const g of group) g.done(); },
      (err: unknown) => { for (const g of group) g.done(err ?? new Error('commit failed')); }
    ).finally(() => {
      this.writing = false;
      this.flush();
    });
  }
}
