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
for (const { key, value } of root.getRange({})) {
  entries++;
  // A named database's entry in the root: read its contents as well.
  if (typeof key === 'string' && value instanceof Uint8Array && value.length === 48) {
    try {
      const db = root.openDB(key, { encoding: 'binary', compression: false });
      for (const e of db.getRange({})) { if (e.value === undefined) break; entries++; }
    } catch {
      // an ordinary key whose value happens to be 48 bytes long: not a database
    }
  }
}
process.stdout.write(`${entries}\n`);
