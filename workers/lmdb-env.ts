/**
 * Every LMDB environment of a data folder is opened here. A folder, always: lmdb-js takes a
 * path with an extension (`vigil.v2`) for a file unless told `noSubdir: false`, and made a file
 * of such a folder.
 */
import { open, type RootDatabase, type RootDatabaseOptions } from 'lmdb';
import { DataUnavailableError } from '../core/errors.js';

export function openEnv (path: string, options: RootDatabaseOptions = {}): RootDatabase {
  return open({ ...options, path, noSubdir: false });
}

/** openEnv for the folder's own environment: an error names the folder and why. */
export function openDataFolder (path: string, options: RootDatabaseOptions = {}): RootDatabase {
  try {
    return openEnv(path, options);
  } catch (err) {
    throw new DataUnavailableError(path, `cannot open the data folder ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
