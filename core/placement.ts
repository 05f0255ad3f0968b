/**
 * Where a record must go (rules.md, "Where a counter lives"). Records are sharded by account;
 * a counter keyed by something that spans accounts (group, trunk, country, called number, …)
 * lives on the shard of its own key. The record goes to its account's shard and to the shard
 * of every spanning key it actually feeds (its filter passes), so every count stays exact and
 * most records make one hop. The receiving engine re-derives which of its counters to apply
 * from the same ShardScope, so the route carries no rule list.
 */
import type { CompiledRules } from './compile.js';
import type { UsageRecord } from './usage-record.js';
import { shardOf } from './hash.js';

export class Placement {
  private readonly compiled: CompiledRules;
  readonly shards: number;
  private readonly keys: string[] = [];
  /** spanning keyers, each with the filters of its counters (-1: a counter without a filter) */
  private readonly spanning: ReadonlyArray<{ index: number, filters: readonly number[] }>;

  constructor (compiled: CompiledRules, shards: number) {
    if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
    this.compiled = compiled;
    this.shards = shards;
    this.spanning = compiled.keyers.filter((k) => !k.local).map((k) => ({ index: k.index, filters: k.counters.map((c) => c.filter) }));
  }

  /** The account's shard: where every account-local counter of the record lives. */
  home (record: UsageRecord): number {
    return shardOf(record.account, this.shards);
  }

  /**
   * Which shards must see the record and for which rules: the account's shard for every
   * account-local rule the record feeds, and each spanning key's shard for the spanning rules
   * it feeds there. For explanations and tests; route() is the hot path's version.
   */
  plan (record: UsageRecord): Array<{ shard: number, rules: string[] }> {
    const byShard = new Map<number, Set<string>>();
    const add = (shard: number, rules: readonly string[]): void => {
      let set = byShard.get(shard);
      if (set === undefined) { set = new Set(); byShard.set(shard, set); }
      for (const r of rules) set.add(r);
    };
    const home = this.home(record);
    add(home, []);
    const keys: string[] = [];
    for (const keyer of this.compiled.keyers) {
      const fed = keyer.counters.filter((c) => c.filter < 0 || this.compiled.filters[c.filter]!(record))
        .flatMap((c) => c.rules.map((r) => r.id));
      if (fed.length === 0) continue;
      const n = keyer.extract(record, keys);
      if (n === 0) continue;
      if (keyer.local) { add(home, fed); continue; }
      for (let i = 0; i < n; i++) add(shardOf(keys[i]!, this.shards), fed);
    }
    return [...byShard].map(([shard, rules]) => ({ shard, rules: [...rules].sort() }));
  }

  /**
   * Writes the distinct shards that must see the record into `out` (home shard first) and
   * returns how many.
   */
  route (record: UsageRecord, out: number[]): number {
    // By index, then the length once: `out.length = 0` and pushes would free and allocate its
    // storage every record (a shorter length keeps it).
    out[0] = this.home(record);
    let count = 1;
    for (const s of this.spanning) {
      if (!this.feedsAny(s.filters, record)) continue;
      const keys = this.keys;
      const n = this.compiled.keyers[s.index]!.extract(record, keys);
      for (let i = 0; i < n; i++) {
        const shard = shardOf(keys[i]!, this.shards);
        let seen = false;
        for (let j = 0; j < count; j++) if (out[j] === shard) { seen = true; break; }
        if (!seen) out[count++] = shard;
      }
    }
    out.length = count;
    return count;
  }

  private feedsAny (filters: readonly number[], record: UsageRecord): boolean {
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i]!;
      if (f < 0 || this.compiled.filters[f]!(record)) return true;
    }
    return false;
  }
}
