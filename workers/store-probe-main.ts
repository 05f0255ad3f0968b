// The reader probeDataFolder() runs in a child process: it opens one LMDB environment read-only
// and reads every key and value, of every named database too. A damaged file can make LMDB
// crash the process that reads it (SIGSEGV on damaged meta pages, an assertion on a damaged
// page, SIGBUS past the end of a truncated file); here that ends only this child. Where LMDB
// notices the damage instead (a page of the wrong type, a page number past the file), it
// throws; this child then prints `damaged: <what LMDB said>` and exits DAMAGED_EXIT.
// Exit 0: read.
import { openEnv } from './lmdb-env.js';
import { DAMAGED_EXIT } from './store-probe.js';

/** LMDB's own words for a damaged file: MDB_CORRUPTED, MDB_PAGE_NOTFOUND. */
const DAMAGE_CODES = new Set([-30796, -30797]);

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: store-probe-main.js DIR\n');
  process.exit(2);
}

function readAll (dir: string): number {
  const root = openEnv(dir, { readOnly: true, maxDbs: 64, encoding: 'binary', compression: false });
  let entries = 0;
  // The names first, the databases after: opening a database while a cursor of the root is
  // still open invalidates that cursor's transaction in lmdb-js, and reading on through it
  // failed with MDB_BAD_TXN or crashed this reader (SIGSEGV) on a sound folder, which was then
  // reported as damaged.
  const named: string[] = [];
  for (const { key, value } of root.getRange({})) {
    entries++;
    // A named database's entry in the root is its 48-byte record.
    if (typeof key === 'string' && value instanceof Uint8Array && value.length === 48) named.push(key);
  }
  // The meta page keeps the root's entry count apart from the tree: pages scrambled into
  // something that still parses read as fewer entries (seen: none of 171), and the writer
  // then crashed on the folder. (Named databases are not checked: one may be dupsort, whose
  // count LMDB keeps differently.)
  // A writer may commit between the count and the header (`vigil blocks lift` takes no lock,
  // and another environment of the folder may be written meanwhile): only a count that stays
  // off is damage.
  for (let attempt = 0, read = entries; ; attempt++) {
    const header = (root.getStats() as { entryCount?: unknown }).entryCount;
    if (typeof header !== 'number' || header === read) break;
    if (attempt === 2) throw new Damaged(`the tree holds ${header} entries by its header, but ${read} could be read`);
    read = 0;
    for (const key of root.getKeys({})) if (key !== undefined) read++;
  }
  for (const name of named) {
    let db;
    try {
      db = root.openDB(name, { encoding: 'binary', compression: false });
    } catch {
      continue; // an ordinary key whose value happens to be 48 bytes long: not a database
    }
    for (const e of db.getRange({})) { if (e.value === undefined) break; entries++; }
  }
  return entries;
}

/** Damage this reader finds itself, beside what LMDB reports. */
class Damaged extends Error {}

try {
  process.stdout.write(`${readAll(path)}\n`);
} catch (err) {
  const code = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof Damaged) && (typeof code !== 'number' || !DAMAGE_CODES.has(code))) throw err;
  process.stderr.write(`damaged: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(DAMAGED_EXIT);
}
