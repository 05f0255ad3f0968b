/**
 * A cluster node started with rules other than those its lanes' counters were written under
 * migrates the counters as a reload of `vigil serve` does (cluster/reload.ts): a counter whose
 * `by`, measure, window and `where` are unchanged keeps its state, a changed limit is computed
 * again for the keys it changed for, other counters restart empty. It runs before the lane
 * actors open the store, in one LMDB transaction with the new fingerprint and rules, so the
 * folder holds either the old rules' state or the new one. The lanes' stream positions are not
 * touched: a lane goes on from where it was.
 *
 * Before, a lane refused a folder written under other rules, so changing one credit limit in a
 * cluster meant new data folders and every lane rebuilt from the shard stream (up to its
 * `retention`, 35 days by default, of records).
 */
import { existsSync } from 'node:fs';
import { compileRules, rulesFingerprint, type CompiledRules } from '../core/compile.js';
import { LmdbStore } from '../workers/store.js';
import { migrateRow, planMigration } from './reload.js';
import { keptRules } from './data-folder.js';

export interface LaneMigration {
  readonly from: string;
  readonly to: string;
  /** counter rows read, and kept under the new rules */
  readonly rows: number;
  readonly keptRows: number;
  /** distinct counters kept and dropped (by + measure + window + where) */
  readonly keptCounters: number;
  readonly droppedCounters: number;
}

/**
 * Migrates the lanes' store at `dataPath` (shards 0 to `shards` - 1) to `compiled` when it was
 * written under other rules that it keeps; resolves with what was done, or undefined when
 * nothing was (no store, the same rules, or a store from before the rules were kept, which the
 * lane actors then refuse, saying so).
 */
export async function migrateLanes (dataPath: string, compiled: CompiledRules, shards: number): Promise<LaneMigration | undefined> {
  if (!existsSync(dataPath)) return undefined;
  const store = new LmdbStore(dataPath);
  try {
    const from = store.fingerprint();
    const to = rulesFingerprint(compiled.config);
    if (from === undefined || from === to) return undefined;
    const old = keptRules(store, from);
    if (old === undefined) return undefined;
    const plan = planMigration(compileRules(old), compiled);
    const all = Array.from({ length: shards }, (_, s) => s);
    const { rows, kept } = await store.migrate(all, to, (row) => migrateRow(plan, compiled, row), compiled.config);
    return { from, to, rows, keptRows: kept, keptCounters: plan.kept, droppedCounters: plan.dropped };
  } finally {
    await store.close();
  }
}
