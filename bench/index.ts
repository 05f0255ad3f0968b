/**
 * Runs every bench (dist/bench/*.bench.js), each in its own child process, so that one
 * bench's JIT state and heap never leak into the next (as pino's benchmarks/utils/runbench.js
 * does). Children run with --expose-gc so the harness can collect between samples.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js [FILTER] [-- bench args]
 *   FILTER   substring of the bench name (`core` runs core.bench.js); all when absent
 *   args after `--` go to every bench, e.g. `-- --samples 9`
 * Exit code: 0 when every bench ran, 1 otherwise.
 * Benches are found by file name. `cluster` (cluster.bench.js) also needs nats-server: it starts
 * a private JetStream server and `vigil serve` node processes, and stops them when it ends.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dashes = argv.indexOf('--');
const own = dashes < 0 ? argv : argv.slice(0, dashes);
const passOn = dashes < 0 ? [] : argv.slice(dashes + 1);
const filter = own[0];

const files = readdirSync(here).filter((f) => f.endsWith('.bench.js')).sort()
  .filter((f) => filter === undefined || f.replace(/\.bench\.js$/, '').includes(filter));
if (files.length === 0) {
  process.stderr.write(`bench: no bench matches ${JSON.stringify(filter)} in ${here}\n`);
  process.exit(1);
}

let failed = 0;
for (const file of files) {
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--expose-gc', join(here, file), ...passOn], { stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (child.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${file} failed (${child.signal ?? `exit ${child.status}`}) after ${seconds} s\n`);
  } else {
    process.stderr.write(`bench: ${file} done in ${seconds} s\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
