// The data-folder check (workers/store-probe.ts) on sound folders: it must read all of them,
// every time. (On damaged ones, see the CLI's table test in cluster/cli.test.ts.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEnv } from '../../workers/lmdb-env.js';
import { probeDataFolder } from '../../workers/store-probe.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const READER = fileURLToPath(new URL('../../workers/store-probe-main.js', import.meta.url));
const NAMED = ['alerts', 'by-rule', 'by-key', 'meta'];
const PER_DB = 3_000;
const PLAIN = 10;

interface Ctx { dir: string }
const probe = suite<Ctx>('workers/store-probe: sound folders are read whole and never called damaged', {} as Ctx);
probe.before.each((ctx) => { ctx.dir = tempDir(); });
probe.after.each(({ dir }) => { removeDir(dir); });

/** An environment shaped like the alert history's: named databases with thousands of entries each, and plain keys in the root. */
async function writeEnv (path: string): Promise<void> {
  mkdirSync(path, { recursive: true });
  const root = openEnv(path, { maxDbs: 6, compression: false });
  for (let i = 0; i < PLAIN; i++) root.putSync(`plain-${i}`, { i });
  for (const name of NAMED) {
    const db = root.openDB(name, { compression: false });
    root.transactionSync(() => { for (let i = 0; i < PER_DB; i++) db.putSync([name, i], { i, text: 'x'.repeat(i % 50) }); });
  }
  await root.close();
}

probe('the reader counts every entry of the root and of each named database, run after run', async ({ dir }) => {
  const env = join(dir, 'alerts');
  await writeEnv(env);
  // Opening a named database read-only renews lmdb-js's read transaction: a reader that did so
  // while still walking the root failed here on most runs (MDB_BAD_TXN, or SIGSEGV).
  for (let run = 0; run < 8; run++) {
    const r = spawnSync(process.execPath, [READER, env], { encoding: 'utf8' });
    assert.equal([r.status, r.signal, r.stdout.trim()], [0, null, String(NAMED.length + PLAIN + NAMED.length * PER_DB)], `run ${run}: ${r.stderr}`);
  }
});

probe('a folder whose subfolders hold sound environments passes the check', async ({ dir }) => {
  const data = join(dir, 'data');
  await writeEnv(data);
  await writeEnv(join(data, 'alerts'));
  await writeEnv(join(data, 'blocks'));
  for (let run = 0; run < 3; run++) probeDataFolder(data);
});

probe.run();
