/**
 * `vigil risk`: a key's risk scores as a data folder holds them (written by `vigil replay
 * --data` or `vigil serve`), with the scored alerts that made each. Reads the folder's
 * counter rows for the key into an engine of the same rules and asks it (Engine.riskOf),
 * so the CLI shows exactly what the running engine would compute.
 */
import type { CompiledRules } from '../core/compile.js';
import { rulesFingerprint } from '../core/compile.js';
import { Engine, type RiskReport } from '../core/engine.js';
import { shardOf } from '../core/hash.js';
import { RefusedError, UsageError } from '../core/errors.js';
import type { Zone } from '../core/zone.js';
import { LmdbStore, type StoredRow } from '../workers/store.js';
import { CheckpointStore } from './checkpoint.js';

/** A folder with no checkpoint (a cluster node's) was written with the cluster's default. */
const DEFAULT_SHARDS = 64;

export interface RiskViewOptions {
  readonly compiled: CompiledRules;
  readonly dataPath: string;
  readonly key: string;
  /** the shard count the folder was written with; default: what its checkpoint says */
  readonly shards?: number | undefined;
  /** event time (ms) to decay the score to, not before its newest alert; default the folder's watermark */
  readonly at?: number | undefined;
}

/** The shard count a `vigil replay --data` or `vigil serve` folder was written with (its checkpoint keeps it). */
async function shardsOf (dataPath: string): Promise<number> {
  const checkpoints = new CheckpointStore(dataPath);
  try {
    return checkpoints.read()?.shards ?? DEFAULT_SHARDS;
  } finally {
    await checkpoints.close();
  }
}

export async function readRisk (opts: RiskViewOptions): Promise<RiskReport[]> {
  const { compiled } = opts;
  if (compiled.riskBy.size === 0) throw new UsageError('these rules have no rule with measure: risk');
  const shards = opts.shards ?? await shardsOf(opts.dataPath);
  const store = new LmdbStore(opts.dataPath);
  try {
    const written = store.fingerprint();
    if (written === undefined) throw new UsageError(`the data folder "${opts.dataPath}" holds no counters`);
    if (written !== rulesFingerprint(compiled.config)) {
      throw new UsageError(`the data folder "${opts.dataPath}" holds counters of other rules; give the --rules it was written with`);
    }
    const all = Array.from({ length: shards }, (_v, i) => i);
    const riskCounters = [...compiled.riskBy.values()].flat();
    const riskKeyers = new Set(riskCounters.map((c) => c.keyer));
    // A score by account lives on that account's shard: read one shard, not the whole folder.
    const byAccount = riskCounters.every((c) => JSON.stringify(compiled.keyers[c.keyer]!.by) === '[{"kind":"field","field":"account"}]');
    const rows: StoredRow[] = [];
    for (const r of store.rows(byAccount ? [shardOf(opts.key, shards)] : all)) {
      if (riskKeyers.has(r.keyer) && r.row.key === opts.key) rows.push(r);
    }
    const meta = store.meta(all) ?? { watermark: -Infinity };
    const engine = new Engine(compiled, Date.now);
    engine.restore(meta, rows);
    const at = opts.at ?? meta.watermark;
    const reports = engine.riskOf(opts.key, Number.isFinite(at) ? at : 0);
    if (opts.at !== undefined) refuseBeforeNewest(reports, opts.key, opts.at, '--at', compiled.zone);
    return reports;
  } finally {
    await store.close();
  }
}

/**
 * Refuses a time before a score's newest alert. A score is kept as one sum decayed to its newest
 * alert, and only the last MAX_CONTRIBUTIONS alerts that made it (core/risk.ts), so it can be
 * decayed forward from there but not taken back: the sum as of an earlier time would need every
 * alert after it, which the cell no longer holds once a key had more. Throws RefusedError naming
 * the earliest time that can be answered; `param` is how the caller gave the time.
 */
export function refuseBeforeNewest (reports: readonly RiskReport[], key: string, at: number, param: string, zone: Zone): void {
  let newest: RiskReport | undefined;
  for (const r of reports) if (Date.parse(r.at) > at && (newest === undefined || Date.parse(r.at) > Date.parse(newest.at))) newest = r;
  if (newest === undefined) return;
  throw new RefusedError(`${param} ${zone.toIso(at)} is before the newest scored alert of key "${key}" (rule ${newest.rule}, ${newest.at}): a risk score is kept as of its newest alert and can only be decayed forward; give ${param} ${newest.at} or later`);
}

export function formatRisk (key: string, reports: readonly RiskReport[]): string {
  if (reports.length === 0) return `${key}: no risk score (no scored alert in the data folder)\n`;
  const lines: string[] = [];
  for (const r of reports) {
    const limit = r.limit === undefined ? '' : `, limit ${r.limit}${r.score > r.limit ? ' (above)' : ''}`;
    lines.push(`${r.rule} (by ${r.by.join(', ')}) ${key}: score ${r.score} at ${r.at}${limit}`);
    for (const c of r.contributions) lines.push(`  ${c.ts}  +${c.score}  ${c.rule}  alert ${c.alert}`);
  }
  return lines.join('\n') + '\n';
}
