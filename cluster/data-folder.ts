/**
 * Whether a command may use a data folder, checked before it starts anything on it: the path
 * must be a folder, and the counters in it must be those of the rules it runs.
 */
import { statSync } from 'node:fs';
import { DataUnavailableError, RefusedError } from '../core/errors.js';
import { LmdbStore } from '../workers/store.js';
import { rulesFingerprint } from '../core/compile.js';
import type { RulesConfig } from '../core/rules-config.js';

/**
 * Throws DataUnavailableError (exit 1) naming `path` when it is missing or not a folder. Reads
 * only: a command that inspects a folder must not create one where a mistyped path points.
 */
export function requireDataFolder (path: string): void {
  let folder: boolean;
  try {
    folder = statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataUnavailableError(path, `no data folder ${path}`);
    throw new DataUnavailableError(path, `cannot open the data folder ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!folder) throw new DataUnavailableError(path, `${path} is not a data folder (it is a file); give the folder of a node or of a replay --data`);
}

/** The refusal of a folder whose counters belong to other rules; `setting` names where the folder was given (`config.data`, `--data`). */
export function otherRulesError (setting: string, data: string, written: string, fingerprint: string): RefusedError {
  return new RefusedError(`${setting}: the data folder ${data} holds counters of other rules (fingerprint ${written}, these rules ${fingerprint}); use another data folder, or the rules it was written with`);
}

/**
 * Refuses a folder that holds counters of other rules, before any actor opens it: the actors
 * would refuse it too, but as an engine failure, and only once they are sent records.
 */
export async function requireFolderRules (setting: string, data: string, fingerprint: string): Promise<void> {
  const store = new LmdbStore(data);
  try {
    const written = store.fingerprint();
    if (written !== undefined && written !== fingerprint) throw otherRulesError(setting, data, written, fingerprint);
  } finally {
    await store.close();
  }
}

/**
 * The rules a store keeps beside its counters, when they are the ones its fingerprint names:
 * a migration planned from any other rules would misplace counters.
 */
export function keptRules (store: LmdbStore, fingerprint: string): RulesConfig | undefined {
  const rules = store.rules();
  return rules !== undefined && rulesFingerprint(rules) === fingerprint ? rules : undefined;
}
