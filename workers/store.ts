/**
 * Durable state of a shard actor. One commit per batch writes, atomically: the counter rows the
 * batch changed, the keys it removed, the engine's scalars, the last epoch applied for each shard
 * the actor owns, and the alerts the batch raised (an outbox, kept until the output is released).
 * After a crash, an actor reopens the store, restores its rows and resumes after the committed
 * epoch, so every record counts exactly once.
 *
 * LmdbStore keeps rows under [shard, keyer, key], so shards can move between actors (and
 * nodes) without rewriting state. MemoryStore is its in-process twin for tests; one contract
 * suite runs against both.
 */
import type { RootDatabase } from 'lmdb';
import type { EngineMeta, Row } from '../core/engine.js';
import type { Alert } from '../core/alert.js';
import type { RulesConfig } from '../core/rules-config.js';
import { EngineError } from '../core/errors.js';
import { openDataFolder } from './lmdb-env.js';
import { disk } from './codec.js';
import { BadRowError, decodeRow, encodeRow } from './row-codec.js';

export interface OutboxEntry { readonly index: number, readonly alert: Alert }
export interface Failure { readonly index: number, readonly reason: string, readonly code: string }
export interface EpochOutput { readonly alerts: readonly OutboxEntry[], readonly failures: readonly Failure[] }

export interface StoredRow { readonly shard: number, readonly keyer: number, readonly row: Row }

export interface Commit {
  readonly epoch: number;
  readonly shards: readonly number[];
  readonly meta: EngineMeta;
  readonly rows: readonly StoredRow[];
  readonly removed: ReadonlyArray<{ readonly shard: number, readonly keyer: number, readonly key: string }>;
  readonly output: EpochOutput;
}

export interface ShardStore {
  /** The rules fingerprint the data was written with, or undefined for a new store. */
  fingerprint (): string | undefined;
  /**
   * Sets the fingerprint and, when given, keeps the rules themselves beside it: a node started
   * with other rules migrates the counters from them (cluster/store-migration.ts).
   */
  setFingerprint (value: string, rules?: RulesConfig): Promise<void>;
  /** Whether the rules the data was written with are kept (folders written before they were are not). */
  hasRules (): boolean;
  /** The last epoch committed for a shard; 0 when none. */
  epochOf (shard: number): number;
  meta (shards: readonly number[]): EngineMeta | undefined;
  rows (shards: readonly number[]): Iterable<StoredRow>;
  output (epoch: number, shard: number): EpochOutput | undefined;
  /** Every outbox entry keyed by `shard` that is not released yet, oldest epoch first. */
  outputs (shard: number): Array<{ epoch: number, output: EpochOutput }>;
  commit (c: Commit): Promise<void>;
  /**
   * Several commits in one transaction, applied in order (a group commit: one LMDB commit pays
   * for all). Their rows are encoded when this is called.
   */
  commitMany (cs: readonly Commit[]): Promise<void>;
  /** Drops outbox entries up to and including `epoch`: their output was written durably downstream. */
  release (epoch: number, shards: readonly number[]): Promise<void>;
  /** Forgets everything of one shard (rows, epoch, meta, outbox) in one transaction: its state is rebuilt from elsewhere. */
  dropShard (shard: number): Promise<void>;
  close (): Promise<void>;
}

type Key = Array<string | number>;

/**
 * An actor's claim on its store at open: a new store, or one written before the rules were kept
 * beside the fingerprint, gets `fingerprint` and `config` (so a node started on it with other
 * rules can migrate the counters: cluster/store-migration.ts). Resolves with the fingerprint of
 * other rules the store holds counters of, which the actor refuses, or undefined.
 */
export async function claimStore (store: ShardStore, fingerprint: string, config: RulesConfig): Promise<string | undefined> {
  const written = store.fingerprint();
  if (written === undefined || (written === fingerprint && !store.hasRules())) {
    await store.setFingerprint(fingerprint, config);
    return undefined;
  }
  return written === fingerprint ? undefined : written;
}

/**
 * For a thread that owns an LmdbStore: when a commit fails, lmdb-js also rejects promises of
 * its own that nobody awaits (the same "Commit failed" error); unhandled, each would end the
 * thread a second time. The commit's caller has the error (commitMany throws it), so these
 * echoes are dropped; any other unhandled rejection still ends the thread.
 */
export function ignoreLmdbCommitEchoes (): void {
  process.on('unhandledRejection', (reason) => {
    if (reason instanceof Error && (reason as { commitError?: unknown }).commitError !== undefined) return;
    throw reason;
  });
}

/**
 * The error that made an LMDB commit fail. lmdb-js rejects a failed transaction with "Commit
 * failed (see commitError for details)" and puts the real one (`Input/output error` on a full
 * disk, say) in a promise on it, `commitError`, which may settle a moment later.
 */
async function commitCause (err: unknown): Promise<unknown> {
  const pending = (err as { commitError?: unknown } | null)?.commitError;
  if (!(pending instanceof Promise)) return err;
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 1_000).unref());
  const cause = await Promise.race([pending.then(() => 'timeout' as const, (real: unknown) => real), timeout]);
  if (cause === 'timeout') return err;
  return cause instanceof Error ? new Error(cause.message, { cause: err }) : err;
}

export class LmdbStore implements ShardStore {
  private readonly db: RootDatabase;

  constructor (path: string) {
    // overlappingSync (the default): a commit is visible and survives a process crash when its
    // promise resolves; the fsync that guards against power loss follows without holding the lock.
    // Values are stored as bytes we encode ourselves: a commit must capture the rows as they are
    // when it is built, while LMDB runs the transaction on a later turn, after the next batch
    // may already have changed the same rows in memory.
    this.db = openDataFolder(path, { compression: false, encoding: 'binary' });
  }

  private read (key: Key): unknown {
    const bytes = this.db.getBinary(key);
    return bytes === undefined ? undefined : disk.unpack(bytes);
  }

  fingerprint (): string | undefined {
    return this.read(['fingerprint']) as string | undefined;
  }

  async setFingerprint (value: string, rules?: RulesConfig): Promise<void> {
    await this.db.transaction(() => {
      this.db.putSync(['fingerprint'], disk.pack(value));
      if (rules !== undefined) this.db.putSync(['rules'], disk.pack(rules));
    });
  }

  hasRules (): boolean {
    return this.db.doesExist(['rules']);
  }

  /** The rules the data was written with, when kept (see setFingerprint). */
  rules (): RulesConfig | undefined {
    return this.read(['rules']) as RulesConfig | undefined;
  }

  epochOf (shard: number): number {
    return (this.read(['epoch', shard]) as number | undefined) ?? 0;
  }

  meta (shards: readonly number[]): EngineMeta | undefined {
    // Each actor writes the same meta for all its shards; after a re-partition, take the newest.
    let best: EngineMeta | undefined;
    for (const s of shards) {
      const m = this.read(['meta', s]) as EngineMeta | undefined;
      if (m !== undefined && (best === undefined || m.watermark > best.watermark)) best = m;
    }
    return best;
  }

  * rows (shards: readonly number[]): Iterable<StoredRow> {
    for (const { stored } of this.storedRows(shards)) yield stored;
  }

  /** The rows of `shards` with the bytes each was read from. */
  private * storedRows (shards: readonly number[]): Iterable<{ stored: StoredRow, bytes: Buffer }> {
    for (const shard of shards) {
      for (const { key, value } of this.db.getRange({ start: ['row', shard], end: ['row', shard, '\uffff'] })) {
        const k = key as Key;
        let row: Row;
        try {
          row = decodeRow(value as Buffer);
        } catch (err) {
          if (!(err instanceof BadRowError)) throw err;
          throw new EngineError('VIGIL_STORE_CORRUPT', `counter row ${JSON.stringify(k)} in the data folder is not a counter row (${err.message}); move the data folder away to start fresh or restore it from a backup`);
        }
        yield { stored: { shard, keyer: k[2] as number, row }, bytes: value as Buffer };
      }
    }
  }

  output (epoch: number, shard: number): EpochOutput | undefined {
    return this.read(['out', epoch, shard]) as EpochOutput | undefined;
  }

  outputs (shard: number): Array<{ epoch: number, output: EpochOutput }> {
    const out: Array<{ epoch: number, output: EpochOutput }> = [];
    for (const { key, value } of this.db.getRange({ start: ['out'], end: ['out', '\uffff'] })) {
      const k = key as Key;
      if (k[2] === shard) out.push({ epoch: k[1] as number, output: disk.unpack(value as Buffer) as EpochOutput });
    }
    return out;
  }

  async commit (c: Commit): Promise<void> {
    await this.commitMany([c]);
  }

  async commitMany (cs: readonly Commit[]): Promise<void> {
    // Encode now (see the constructor), write later in one transaction.
    const ops: Array<{ removed: Key[], puts: Array<[Key, Buffer]> }> = cs.map((c) => {
      const puts: Array<[Key, Buffer]> = c.rows.map(({ shard, keyer, row }) => [['row', shard, keyer, row.key], encodeRow(row)]);
      const first = c.shards[0];
      // The outbox entry is keyed by the first shard: one per actor and epoch is enough.
      if (first !== undefined && (c.output.alerts.length > 0 || c.output.failures.length > 0)) puts.push([['out', c.epoch, first], disk.pack(c.output)]);
      const epoch = disk.pack(c.epoch);
      const meta = disk.pack(c.meta);
      for (const s of c.shards) puts.push([['epoch', s], epoch], [['meta', s], meta]);
      return { removed: c.removed.map(({ shard, keyer, key }) => ['row', shard, keyer, key]), puts };
    });
    // Inside a transaction, put and remove apply at once; their promises carry nothing more.
    try {
      await this.db.transaction(() => {
        for (const { removed, puts } of ops) {
          for (const key of removed) this.db.removeSync(key);
          for (const [key, value] of puts) this.db.putSync(key, value);
        }
      });
    } catch (err) {
      throw await commitCause(err);
    }
  }

  async release (epoch: number, shards: readonly number[]): Promise<void> {
    const first = shards[0];
    if (first === undefined) return;
    const stale: Key[] = [];
    for (const key of this.db.getKeys({ start: ['out', 0], end: ['out', epoch + 1] })) {
      const k = key as Key;
      if (k[2] === first) stale.push(k);
    }
    if (stale.length === 0) return;
    await this.db.transaction(() => { for (const k of stale) this.db.removeSync(k); });
  }

  async dropShard (shard: number): Promise<void> {
    const keys: Key[] = [['epoch', shard], ['meta', shard]];
    for (const key of this.db.getKeys({ start: ['row', shard], end: ['row', shard, '\uffff'] })) keys.push(key as Key);
    for (const key of this.db.getKeys({ start: ['out'], end: ['out', '\uffff'] })) if ((key as Key)[2] === shard) keys.push(key as Key);
    await this.db.transaction(() => { for (const k of keys) this.db.removeSync(k); });
  }

  /**
   * A rules change: rewrites every counter row of `shards` through `map` (undefined drops the
   * row) and sets the new fingerprint, in one transaction, so the folder holds either the old
   * rules' state or the new. Only while no actor has the store open. `rules`: the new rules, kept
   * beside the fingerprint (see setFingerprint). Resolves with the rows read and kept.
   */
  async migrate (shards: readonly number[], fingerprint: string, map: (r: StoredRow) => StoredRow | undefined, rules?: RulesConfig): Promise<{ rows: number, kept: number }> {
    const removed: Key[] = [];
    const puts: Array<[Key, Buffer]> = [];
    let rows = 0;
    let kept = 0;
    for (const { stored: r, bytes } of this.storedRows(shards)) {
      rows++;
      const next = map(r);
      if (next !== undefined) kept++;
      const encoded = next === undefined ? undefined : encodeRow(next.row);
      // A row the new rules leave as it was (a limits change touches the keys whose limit
      // changed) is not written again: with a million keys that was most of the reload.
      if (encoded !== undefined && next!.shard === r.shard && next!.keyer === r.keyer && encoded.equals(bytes)) continue;
      removed.push(['row', r.shard, r.keyer, r.row.key]);
      if (encoded !== undefined) puts.push([['row', next!.shard, next!.keyer, next!.row.key], encoded]);
    }
    // Old rows go first: a kept row may move to the key of another old row (never to one left
    // in place: old keyers go to distinct new ones, and a row left in place kept its keyer).
    await this.db.transaction(() => {
      for (const key of removed) this.db.removeSync(key);
      for (const [key, value] of puts) this.db.putSync(key, value);
      this.db.putSync(['fingerprint'], disk.pack(fingerprint));
      if (rules !== undefined) this.db.putSync(['rules'], disk.pack(rules));
    });
    return { rows, kept };
  }

  /**
   * Rows changed by new per-key limits (a limits-only reload, EmbeddedEngine.relimit) and the
   * new rules' fingerprint and rules, in one transaction: the folder holds the old rules' state
   * or the new. The rows' keys stay where they are.
   */
  async putRows (rows: readonly StoredRow[], fingerprint: string, rules: RulesConfig): Promise<void> {
    const puts: Array<[Key, Buffer]> = rows.map(({ shard, keyer, row }) => [['row', shard, keyer, row.key], encodeRow(row)]);
    const fp = disk.pack(fingerprint);
    const packed = disk.pack(rules);
    try {
      await this.db.transaction(() => {
        for (const [key, value] of puts) this.db.putSync(key, value);
        this.db.putSync(['fingerprint'], fp);
        this.db.putSync(['rules'], packed);
      });
    } catch (err) {
      throw await commitCause(err);
    }
  }

  async close (): Promise<void> {
    await this.db.close();
  }
}

/** The same contract in memory: for tests of the actor without a disk. */
export class MemoryStore implements ShardStore {
  private fp: string | undefined;
  private readonly epochs = new Map<number, number>();
  private readonly metas = new Map<number, EngineMeta>();
  private readonly data = new Map<string, StoredRow>();
  private readonly outbox = new Map<string, EpochOutput>();

  private kept: RulesConfig | undefined;
  fingerprint (): string | undefined { return this.fp; }
  async setFingerprint (value: string, rules?: RulesConfig): Promise<void> { this.fp = value; if (rules !== undefined) this.kept = rules; }
  hasRules (): boolean { return this.kept !== undefined; }
  epochOf (shard: number): number { return this.epochs.get(shard) ?? 0; }
  meta (shards: readonly number[]): EngineMeta | undefined {
    let best: EngineMeta | undefined;
    for (const s of shards) {
      const m = this.metas.get(s);
      if (m !== undefined && (best === undefined || m.watermark > best.watermark)) best = m;
    }
    return best;
  }

  * rows (shards: readonly number[]): Iterable<StoredRow> {
    const wanted = new Set(shards);
    // A deep copy, as a real store would give: the engine must not share objects with the store.
    for (const r of this.data.values()) if (wanted.has(r.shard)) yield { shard: r.shard, keyer: r.keyer, row: decodeRow(encodeRow(r.row)) };
  }

  output (epoch: number, shard: number): EpochOutput | undefined { return this.outbox.get(`${epoch}:${shard}`); }
  outputs (shard: number): Array<{ epoch: number, output: EpochOutput }> {
    const out: Array<{ epoch: number, output: EpochOutput }> = [];
    for (const [k, output] of this.outbox) {
      const [e, s] = k.split(':').map(Number);
      if (s === shard && e !== undefined) out.push({ epoch: e, output });
    }
    return out.sort((a, b) => a.epoch - b.epoch);
  }

  async commitMany (cs: readonly Commit[]): Promise<void> {
    for (const c of cs) await this.commit(c);
  }

  async commit (c: Commit): Promise<void> {
    for (const r of c.removed) this.data.delete(`${r.shard}:${r.keyer}:${r.key}`);
    // Through the row codec, as LMDB does: the contract suite checks it keeps every field.
    for (const r of c.rows) this.data.set(`${r.shard}:${r.keyer}:${r.row.key}`, { shard: r.shard, keyer: r.keyer, row: decodeRow(encodeRow(r.row)) });
    const first = c.shards[0];
    if (first !== undefined && (c.output.alerts.length > 0 || c.output.failures.length > 0)) this.outbox.set(`${c.epoch}:${first}`, c.output);
    for (const s of c.shards) { this.epochs.set(s, c.epoch); this.metas.set(s, c.meta); }
  }

  async release (epoch: number, shards: readonly number[]): Promise<void> {
    const first = shards[0];
    for (const k of [...this.outbox.keys()]) {
      const [e, s] = k.split(':').map(Number);
      if (e !== undefined && e <= epoch && s === first) this.outbox.delete(k);
    }
  }

  async dropShard (shard: number): Promise<void> {
    for (const [k, r] of this.data) if (r.shard === shard) this.data.delete(k);
    for (const k of [...this.outbox.keys()]) if (Number(k.split(':')[1]) === shard) this.outbox.delete(k);
    this.epochs.delete(shard);
    this.metas.delete(shard);
  }

  async close (): Promise<void> {}
}
