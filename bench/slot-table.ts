/**
 * The counting floor both ceilings share (core.bench's `ceiling` row and `vigil bench`'s
 * baseline): an account's integer id interned once, and one Float64Array slot per counter
 * bumped per record. No rule logic: the least any engine must do to keep that many counters.
 */
export class SlotTable {
  private readonly counters: number;
  private readonly ids = new Map<string, number>();
  private slots: Float64Array;

  constructor (counters: number) {
    this.counters = counters;
    this.slots = new Float64Array(1024 * counters);
  }

  bump (account: string): void {
    const counters = this.counters;
    let id = this.ids.get(account);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(account, id);
      if ((id + 1) * counters > this.slots.length) {
        const grown = new Float64Array(this.slots.length * 2);
        grown.set(this.slots);
        this.slots = grown;
      }
    }
    const base = id * counters;
    for (let c = 0; c < counters; c++) this.slots[base + c]! += 1;
  }

  /** Something of the result for a sink, so V8 cannot drop the work. */
  get checksum (): number {
    return this.slots[0]! + this.ids.size;
  }
}
