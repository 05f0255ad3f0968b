/**
 * A node started with rules other than those its counters were written under migrates them as
 * a reload does (cluster/reload.ts): a counter whose `by`, measure, window and `where` are
 * unchanged keeps its state, a changed limit is computed again for the keys it changed for,
 * other counters restart empty. It runs before the actors open the store, in one LMDB
 * transaction with the new fingerprint and rules, so the folder holds either the old rules'
 * state or the new one; positions (epochs, a lane's stream position) are not touched.
 *
 * Used by an embedded node (its rules file edited while it was stopped) and by a cluster node
 * for its lanes. Before, both refused such a folder: in a cluster, changing one credit limit
 * meant new data folders and every lane rebuilt from the shard stream (up to its `retention`).
 */
import { existsSync } from 'node:fs';
import { compileRules, rulesFingerprint, type CompiledRules } from '../core/compile.js';
import { LmdbStore } from '../workers/store.js';
import { migrateRow, planMigration } from './reload.js';
import { keptRules } from './data-folder.js';

export interface StoreMigration {
  readonly from: string;
  readonly to: string;
  /** counter rows read, and kept under the new rules */
  readonly rows: number;
  readonly keptRows: number;
  /** distinct counters kept and dropped (by + measure + window + where) */
  readonly keptCounters: number;
  readonly droppedCounters: number;
}

/** A migration done, or why none was: the same rules, or a store that does not keep its rules. */
export type Migrated = StoreMigration | 'same rules' | 'rules not kept';

/**
 * Migrates the open `store` (shards 0 to `shards` - 1) to `compiled` when it was written under
 * other rules that it keeps. 'rules not kept': a store from before the rules were kept beside
 * the counters, which cannot be migrated (the caller refuses it, saying so).
 */
export async function migrateStore (store: LmdbStore, compiled: CompiledRules, shards: number): Promise<Migrated> {
  const from = store.fingerprint();
  const to = rulesFingerprint(compiled.config);
  if (from === undefined || from === to) return 'same rules';
  const old = keptRules(store, from);
  if (old === undefined) return 'rules not kept';
  const plan = planMigration(compileRules(old), compiled);
  const all = Array.from({ length: shards }, (_, s) => s);
  const { rows, kept } = await store.migrate(all, to, (row) => migrateRow(plan, compiled, row), compiled.config);
  return { from, to, rows, keptRows: kept, keptCounters: plan.kept, droppedCounters: plan.dropped };
}

/** The log line of a migration of the store at `data`. */
export function migratedEvent (data: string, m: StoreMigration): Record<string, unknown> {
  return { migrated: data, from: m.from, to: m.to, rows: m.rows, kept_rows: m.keptRows, kept_counters: m.keptCounters, dropped_counters: m.droppedCounters };
}

/**
 * A cluster node's lanes' store at `dataPath`, migrated if it needs it. A store from before the
 * rules were kept is left as it is: the lane actors refuse it, saying what to do.
 */
export async function migrateLanes (dataPath: string, compiled: CompiledRules, shards: number): Promise<StoreMigration | undefined> {
  if (!existsSync(dataPath)) return undefined;
  const store = new LmdbStore(dataPath);
  try {
    const migrated = await migrateStore(store, compiled, shards);
    return typeof migrated === 'string' ? undefined : migrated;
  } finally {
    await store.close();
  }
}
