/**
 * Checks, before a process opens a data folder, that LMDB can read it. LMDB has no checksums
 * and trusts its file: a damaged one makes it crash the process that reads it, from native
 * code, beyond any catch (SIGSEGV on damaged meta pages, an assertion on a damaged page, SIGBUS
 * past the end of a truncated file), and a node started again on it would crash again. So a
 * child process reads every LMDB environment of the folder first; if it dies, or LMDB says the
 * file is damaged (MDB_CORRUPTED, MDB_PAGE_NOTFOUND: without a crash, but only where a read
 * happens to touch the damage, so a run with nothing left to read would not notice), the
 * folder is reported as damaged, with what LMDB said, and nothing is opened.
 *
 * Cost: one read of each environment at start (about a second per 100 MB here). A folder that
 * does not exist yet, or holds no LMDB file, is not read.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../core/errors.js';

const READER = fileURLToPath(new URL('./store-probe-main.js', import.meta.url));
/** How LMDB ends a process on a damaged file: a bad pointer, a page past the end, an assertion. */
const CRASHES = new Set(['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGILL', 'SIGFPE']);

/** The LMDB environments of a data folder: the folder itself and its subfolders that hold one. */
function environments (dir: string): string[] {
  // Not a folder (yet): opening it says what is wrong with it (DataUnavailableError).
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: string[] = [];
  if (holdsData(dir)) out.push(dir);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && holdsData(join(dir, entry.name))) out.push(join(dir, entry.name));
  }
  return out;
}

/**
 * An environment with a data file LMDB has written to. An empty one (a process killed while it
 * created the environment) is what LMDB makes a new environment of when it opens it to write;
 * opened read-only, as the reader does, it would crash the reader instead.
 */
function holdsData (env: string): boolean {
  const file = join(env, 'data.mdb');
  return existsSync(file) && statSync(file).size > 0;
}

/** The reader's exit code when LMDB said the file is damaged (rather than crashing on it). */
export const DAMAGED_EXIT = 3;

/** Throws VIGIL_STORE_CORRUPT naming the environment and what LMDB said, if one cannot be read. */
export function probeDataFolder (dir: string): void {
  for (const env of environments(dir)) {
    const r = spawnSync(process.execPath, [READER, env], { encoding: 'utf8', timeout: 600_000 });
    if (r.status === DAMAGED_EXIT) {
      const said = (r.stderr ?? '').split('\n').find((l) => l.startsWith('damaged: '))?.slice('damaged: '.length) ?? 'LMDB reported damage';
      throw new EngineError('VIGIL_STORE_CORRUPT', `the data folder ${dir} is damaged: reading ${join(env, 'data.mdb')} failed with ${said}; move the data folder away to start fresh, or restore it from a backup`);
    }
    // Only a crash counts. An error LMDB throws (a reader that cannot take a read slot on a
    // folder a killed process left, say) the process opening the folder meets as an error too,
    // which it reports; and a reader that could not run or ran out of time proves nothing.
    if (r.signal === null || !CRASHES.has(r.signal) || r.error !== undefined) continue;
    const said = (r.stderr ?? '').split('\n').map((l) => l.trim()).find((l) => l.includes('Assertion'));
    throw new EngineError('VIGIL_STORE_CORRUPT', `the data folder ${dir} is damaged: reading ${join(env, 'data.mdb')} ended with ${r.signal}${said === undefined ? '' : ` (${said})`}; move the data folder away to start fresh, or restore it from a backup`);
  }
}
