// The wire and disk codec. msgpackr's native string extraction is off in every thread and
// process (workers/msgpack-js-strings.ts says why: msgpackr-extract's step table is shared by the
// whole process and rewritten by every thread that loads it, so a decode in another thread can
// read a string from inside a float64). It stays off only if nothing loads msgpackr before that
// module runs, so msgpackr has one door, workers/codec.ts, and that module is its first import.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { disk, isNativeAccelerationEnabled } from '../../workers/codec.js';

const test = suite('workers/codec');
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CODEC_JS = new URL('../../workers/codec.js', import.meta.url).href;

function sources (dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|js|mjs|cjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

test('workers/codec.ts is the only module that imports msgpackr, and msgpack-js-strings comes first in it', () => {
  // The one other: the bench that measures both settings, each in a child process of its own.
  const self = fileURLToPath(import.meta.url).replace(/\/dist\/(.*)\.js$/, '/$1.ts');
  const importers = sources(ROOT).filter((f) => f !== self && /from 'msgpackr'|require\('msgpackr'\)|import\('msgpackr'\)/.test(readFileSync(f, 'utf8')));
  assert.equal(importers.map((f) => relative(ROOT, f)).sort(), ['bench/msgpack-strings.bench.ts', 'workers/codec.ts']);
  const imports = readFileSync(join(ROOT, 'workers/codec.ts'), 'utf8').split('\n').filter((l) => l.startsWith('import '));
  assert.is(imports[0], "import './msgpack-js-strings.js';");
});

test('native string extraction is off in this thread', () => {
  assert.is(isNativeAccelerationEnabled, false);
});

test('and in a worker thread that loads the codec', async () => {
  const source = `import(${JSON.stringify(CODEC_JS)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.isNativeAccelerationEnabled))`;
  const worker = new Worker(source, { eval: true });
  const enabled = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  await worker.terminate();
  assert.is(enabled, false);
});

test('and in a child process, even one that loads lmdb (and its own msgpackr) first', () => {
  const script = `await import('lmdb'); const m = await import(${JSON.stringify(CODEC_JS)}); console.log(m.isNativeAccelerationEnabled, process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED);`;
  const env = { ...process.env };
  delete env.MSGPACKR_NATIVE_ACCELERATION_DISABLED;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'false true');
});

test('alerts with floats beside their strings go through the disk codec unchanged', () => {
  const alerts = Array.from({ length: 300 }, (_, i) => ({
    index: i,
    alert: { id: `a${i}`, rule: 'country-avg', key: `acct-${i}`, value: 255.428571 + i / 7, limit: 100.5, ts: '2026-03-28T01:02:03.000+01:00', record: { account: `acct${i}`, called: '+25261234567', cost: i * 0.1, ts: 1774656123000 + i } },
  }));
  const output = { alerts, failures: [{ index: 3, reason: 'naïve → ünïcode', code: 'VIGIL_X' }] };
  assert.equal(disk.unpack(Uint8Array.prototype.slice.call(disk.pack(output))), output);
});

test.run();
