/**
 * Checks, before a process opens a data folder, that LMDB can read it. LMDB has no checksums
 * and trusts its file: a damaged one makes it crash the process that reads it, from native
 * code, beyond any catch (SIGSEGV on damaged meta pages, an assertion on a damaged page, SIGBUS
 * past the end of a truncated file), and a node started again on it would crash again. So a
 * child process reads every LMDB environment of the folder first; if it dies, the folder is
 * reported as damaged, with what LMDB said, and nothing is opened.
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

/** The LMDB environments of a data folder: the folder itself and its subfolders that hold one. */
function environments (dir: string): string[] {
  // Not a folder (yet): opening it says what is wrong with it (DataUnavailableError).
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: string[] = [];
  if (existsSync(join(dir, 'data.mdb'))) out.push(dir);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(join(dir, entry.name, 'data.mdb'))) out.push(join(dir, entry.name));
  }
  return out;
}

/** Throws VIGIL_STORE_CORRUPT naming the environment and what LMDB said, if one cannot be read. */
export function probeDataFolder (dir: string): void {
  for (const env of environments(dir)) {
    const r = spawnSync(process.execPath, [READER, env], { encoding: 'utf8', timeout: 600_000 });
    if (r.status === 0) continue;
    const said = (r.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('at ') && !l.startsWith('Node.js ')).slice(0, 2).join(' ');
    const how = r.signal !== null ? `ended with ${r.signal}` : r.error !== undefined ? `could not run (${r.error.message})` : `failed (exit ${r.status ?? '?'})`;
    throw new EngineError('VIGIL_STORE_CORRUPT', `the data folder ${dir} is damaged: reading ${join(env, 'data.mdb')} ${how}${said === '' ? '' : `: ${said}`}; move the data folder away to start fresh, or restore it from a backup`);
  }
}
