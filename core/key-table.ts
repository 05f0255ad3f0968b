/**
 * The counter state of one keyer (one distinct `by`): every key it has seen gets a small
 * integer id, and the hot state of all its keys lives in one Float64Array, `stride` numbers a
 * key, so applying a record is arithmetic on one contiguous row instead of a walk through
 * row → cell → window objects. What does not fit a fixed-size row (sliding windows' events,
 * distinct sets, older windows still open, adaptive history, risk scores) hangs off the key
 * as plain objects in `cells`.
 *
 * Ids are reused after a key is removed; `keys[id]` is undefined while an id is free.
 */
import type { Cell } from './engine.js';

/** No bucket: the key is not waiting in the engine's expiry wheel. */
export const UNSCHEDULED = -1;

export class KeyTable {
  /** numbers per key in `arena` */
  readonly stride: number;
  /** counters of the keyer: the length of each key's `cells` */
  readonly width: number;
  /** what a new key's row starts as (stride numbers) */
  private readonly blank: Float64Array;
  private readonly ids = new Map<string, number>();
  /** id → key; undefined for a free id */
  readonly keys: Array<string | undefined> = [];
  /** id → shard of the key (-1 without a scope) */
  shards = new Int32Array(64);
  arena: Float64Array;
  /** id → the key's objects, one per counter slot; undefined until a counter needs one */
  readonly cells: Array<Array<Cell | undefined> | undefined> = [];
  /** id * width + slot → what the newest window of an arena counter holds besides numbers (a distinct set, held events) */
  readonly aux: unknown[] = [];
  /** id → the expiry bucket the key waits in, or UNSCHEDULED */
  scheduled = new Float64Array(64).fill(UNSCHEDULED);
  /** id → 1 while the key has changes not yet taken (trackChanges) */
  dirty = new Uint8Array(64);
  readonly dirtyList: number[] = [];
  private readonly free: number[] = [];
  private capacity = 64;

  constructor (blank: Float64Array, width: number) {
    this.stride = blank.length;
    this.blank = blank;
    this.width = width;
    this.arena = new Float64Array(this.capacity * Math.max(1, this.stride));
  }

  get size (): number { return this.ids.size; }

  /** The key's id, or undefined when it has no state. */
  id (key: string): number | undefined {
    return this.ids.get(key);
  }

  /** Creates the key's (empty) state and returns its id. */
  create (key: string, shard: number): number {
    let id = this.free.pop();
    if (id === undefined) {
      id = this.keys.length;
      if (id === this.capacity) this.grow();
      this.keys.push(key);
      this.cells.push(undefined);
    } else {
      this.keys[id] = key;
      this.cells[id] = undefined;
    }
    this.ids.set(key, id);
    this.shards[id] = shard;
    this.scheduled[id] = UNSCHEDULED;
    this.dirty[id] = 0;
    if (this.stride > 0) this.arena.set(this.blank, id * this.stride);
    return id;
  }

  remove (id: number): void {
    const key = this.keys[id];
    if (key === undefined) return;
    this.ids.delete(key);
    this.keys[id] = undefined;
    this.cells[id] = undefined;
    for (let s = id * this.width; s < (id + 1) * this.width; s++) this.aux[s] = undefined;
    this.scheduled[id] = UNSCHEDULED;
    this.dirty[id] = 0;
    this.free.push(id);
  }

  /** The key's objects, created on first use. */
  cellsOf (id: number): Array<Cell | undefined> {
    let cells = this.cells[id];
    if (cells === undefined) { cells = new Array<Cell | undefined>(this.width); this.cells[id] = cells; }
    return cells;
  }

  markDirty (id: number): void {
    if (this.dirty[id] === 1) return;
    this.dirty[id] = 1;
    this.dirtyList.push(id);
  }

  /** Live ids, in id order. */
  * live (): IterableIterator<number> {
    for (let id = 0; id < this.keys.length; id++) if (this.keys[id] !== undefined) yield id;
  }

  private grow (): void {
    const capacity = this.capacity * 2;
    const arena = new Float64Array(capacity * Math.max(1, this.stride));
    arena.set(this.arena);
    this.arena = arena;
    const shards = new Int32Array(capacity);
    shards.set(this.shards);
    this.shards = shards;
    const scheduled = new Float64Array(capacity).fill(UNSCHEDULED);
    scheduled.set(this.scheduled);
    this.scheduled = scheduled;
    const dirty = new Uint8Array(capacity);
    dirty.set(this.dirty);
    this.dirty = dirty;
    this.capacity = capacity;
  }
}
