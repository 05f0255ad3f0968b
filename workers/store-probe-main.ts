// The reader probeDataFolder() runs in a child process: it opens one LMDB environment read-only
// and reads every key and value, of every named database too. A damaged file can make LMDB
// crash the process that reads it (SIGSEGV on damaged meta pages, an assertion on a damaged
// page, SIGBUS past the end of a truncated file); here that ends only this child. Exit 0: read.
import { openEnv } from './lmdb-env.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: store-probe-main.js DIR\n');
  process.exit(2);
}
const root = openEnv(path, { readOnly: true, maxDbs: 64, encoding: 'binary', compression: false });
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
for (const name of named) {
  let db;
  try {
    db = root.openDB(name, { encoding: 'binary', compression: false });
  } catch {
    continue; // an ordinary key whose value happens to be 48 bytes long: not a database
  }
  for (const e of db.getRange({})) { if (e.value === undefined) break; entries++; }
}
process.stdout.write(`${entries}\n`);
