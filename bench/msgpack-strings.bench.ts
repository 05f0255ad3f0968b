/**
 * Why Vigil decodes MessagePack strings in JavaScript (workers/msgpack-js-strings.ts), and what
 * that costs. Two parts, each in child processes, since msgpackr reads its switch once, when it
 * loads (this file and workers/codec.ts are the only ones that import msgpackr):
 *
 * - cost: a shard thread's batches (prepared demo records, 1,024 per chunk, the wire codec's
 *   settings) decoded with msgpackr's native string extraction and without; best of 9 passes.
 * - race: msgpackr-extract's `extractStrings` called in a loop in one thread on a buffer of
 *   float64s and strings, while the main thread starts threads that load the addon (each load
 *   rewrites the addon's step table, shared by the whole process), and again with no loads. A
 *   wrong answer is a decode that would silently give garbage. When an upgrade of
 *   msgpackr-extract shows none with loads, native extraction can come back.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/msgpack-strings.bench.js [--seconds 20]
 * Not run by index.js: results in RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { intArg } from './harness.js';

const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);
type Extract = (start: number, end: number, buffer: ArrayBufferLike) => unknown;

async function decodeCost (): Promise<void> {
  const { Packr } = await import('msgpackr');
  const { loadRules } = await import('../cluster/rules-file.js');
  const { compileRules } = await import('../core/compile.js');
  const { Ingest } = await import('../core/ingest.js');
  const { generateTraffic } = await import('../examples/dataset.js');
  const packr = new Packr({ useRecords: true, moreTypes: true });
  const ingest = new Ingest(compileRules(loadRules(fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url)))));
  const records: unknown[] = [];
  generateTraffic({ days: 1, seed: 7, accounts: 2000, start: '2026-11-20' }).lines.forEach((line, i) => {
    let raw: unknown;
    try { raw = JSON.parse(line); } catch { return; }
    const p = ingest.prepare(raw, { source: 'bench', line: i + 1 });
    if (p.ok) records.push(p.record);
  });
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < records.length; i += 1024) chunks.push(Uint8Array.prototype.slice.call(packr.pack(records.slice(i, i + 1024))));
  let best = 0;
  for (let pass = 0; pass < 9; pass++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (const c of chunks) n += (packr.unpack(c) as unknown[]).length;
    best = Math.max(best, n / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  process.stdout.write(JSON.stringify({ records: records.length, bytesPerRecord: Math.round(bytes / records.length), recordsPerSecond: Math.round(best) }) + '\n');
}

/** In a worker: calls the extractor for `seconds` and counts answers that differ from the first. */
function extractLoop (seconds: number): void {
  const { extractStrings } = require('msgpackr-extract') as { extractStrings: Extract };
  const { Packr } = require('msgpackr') as typeof import('msgpackr');
  const values: unknown[] = [];
  for (let i = 0; i < 2000; i++) values.push(255.428571 + i, `héllo ${i}`);
  const bytes = Uint8Array.prototype.slice.call(new Packr({ useRecords: true }).pack(values));
  const answer = (): string => { try { return JSON.stringify(extractStrings(0, bytes.length, bytes.buffer)); } catch (err) { return String(err); } };
  const expected = answer();
  let calls = 0;
  let wrong = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) { calls++; if (answer() !== expected) wrong++; }
  parentPort!.postMessage({ calls, wrong });
}

async function race (seconds: number, loads: boolean): Promise<void> {
  const worker = new Worker(SELF, { workerData: { seconds } });
  let started = 0;
  let done = false;
  const loadOne = (): void => {
    if (done) return;
    const w = new Worker('require("msgpackr-extract"); process.exit(0)', { eval: true });
    w.on('exit', () => { started++; loadOne(); });
  };
  if (loads) { loadOne(); loadOne(); }
  const result = await new Promise<{ calls: number, wrong: number }>((resolve) => worker.once('message', resolve));
  done = true;
  await worker.terminate();
  process.stdout.write(JSON.stringify({ ...result, addonLoads: started }) + '\n');
}

function child (args: string[], native: boolean): Record<string, number> {
  const env = { ...process.env };
  if (native) delete env.MSGPACKR_NATIVE_ACCELERATION_DISABLED; else env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true';
  const r = spawnSync(process.execPath, [SELF, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

if (!isMainThread) {
  extractLoop((workerData as { seconds: number }).seconds);
} else if (process.argv[2] === '--child-decode') {
  await decodeCost();
} else if (process.argv[2] === '--child-race') {
  await race(Number(process.argv[3]), process.argv[4] === 'loads');
} else {
  const seconds = intArg('seconds', 20);
  const rows: string[] = [];
  for (let round = 0; round < 3; round++) {
    const n = child(['--child-decode'], true);
    const j = child(['--child-decode'], false);
    rows.push(`round ${round + 1}: native ${n.recordsPerSecond!.toLocaleString('en')} records/s, JavaScript ${j.recordsPerSecond!.toLocaleString('en')} (${(j.recordsPerSecond! / n.recordsPerSecond!).toFixed(2)}x), ${n.records!.toLocaleString('en')} records of ${n.bytesPerRecord} bytes`);
    process.stdout.write(rows.at(-1) + '\n');
  }
  const loaded = child(['--child-race', String(seconds), 'loads'], true);
  process.stdout.write(`extractor while other threads load the addon: ${loaded.wrong} wrong of ${loaded.calls!.toLocaleString('en')} calls, ${loaded.addonLoads} loads\n`);
  const alone = child(['--child-race', String(seconds), 'alone'], true);
  process.stdout.write(`extractor alone: ${alone.wrong} wrong of ${alone.calls!.toLocaleString('en')} calls\n`);
}
