/**
 * Scaling runs of `vigil bench`: records/s and memory of the single-threaded core as the
 * number of rules grows (synthetic rule sets of 1 to 200 rules over the demo traffic), as the
 * number of keys grows (synthetic traffic where every record brings a new caller and a new
 * subscription), and records/s of `vigil replay` (shard actors on worker threads, counters in
 * LMDB in a temporary folder) as shard threads grow. Each point runs as fast as it goes.
 * Needs the build and some temporary disk (threads runs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseRules } from '../core/rules-parse.js';
import { compileRules } from '../core/compile.js';
import type { CompiledRules } from '../core/compile.js';
import { replay } from '../cluster/replay.js';
import { runLoad } from './load.js';
import type { Progress } from './progress.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const HEAD = `version: 1
timezone: Europe/Berlin
home_country: DE
account_scoped: [subscription, caller]
lateness: 1h
rules:
`;

/**
 * Rule shapes the synthetic sets cycle through: common measures, levels and windows. Each
 * rule gets a filter of its own (one that nearly every record passes), so that N rules are N
 * counters: rules alike but for their limits would share one counter.
 */
const TEMPLATES: ReadonlyArray<(i: number) => string> = [
  (i) => `  - { id: r${i}, by: account, measure: count, window: day, where: { account: { not_in: [x${i}] } }, limit: ${100000 + i} }`,
  (i) => `  - { id: r${i}, by: account, measure: sum(duration), window: hour, where: { service: voice, account: { not_in: [x${i}] } }, limit: ${1e7 + i} }`,
  (i) => `  - { id: r${i}, by: caller, measure: distinct(called), window: hour, where: { service: voice, account: { not_in: [x${i}] } }, limit: ${500 + i} }`,
  (i) => `  - { id: r${i}, by: subscription, measure: count, window: { sliding: 10m }, where: { account: { not_in: [x${i}] } }, limit: ${1000 + i} }`,
  (i) => `  - { id: r${i}, by: [account, country], measure: count, window: day, where: { country: { not_in: [DE] }, account: { not_in: [x${i}] } }, limit: ${5000 + i} }`,
  (i) => `  - { id: r${i}, by: account, measure: max(duration), window: day, where: { account: { not_in: [x${i}] } }, limit: ${86400 + i} }`,
  (i) => `  - { id: r${i}, by: caller, measure: count, window: day, where: { duration: { lt: ${3 + (i % 5)} }, account: { not_in: [x${i}] } }, limit: ${2000 + i} }`,
  (i) => `  - { id: r${i}, by: "trim(called, 3)", measure: count, window: hour, where: { service: sms, account: { not_in: [x${i}] } }, limit: ${3000 + i} }`,
];

export function syntheticRules (n: number): CompiledRules {
  const lines = Array.from({ length: n }, (_, i) => (TEMPLATES[i % TEMPLATES.length] as (i: number) => string)(i + 1));
  return compileRules(parseRules(HEAD + lines.join('\n') + '\n', `synthetic-${n}.yaml`, { readFile: () => '' }));
}

export interface ScalePoint { readonly x: number, readonly skipped?: string, readonly counters?: number, readonly records: number, readonly recordsPerSec: number, readonly heapMiB: number, readonly rssMiB: number, readonly keys?: number, readonly bytesPerKey?: number }

function mib (bytes: number): number {
  return Math.round(bytes / 1048576);
}

/** The JS heap plus typed-array storage (the engine's arenas live there, outside the heap). */
function heapUsed (): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export async function scaleRules (counts: readonly number[], lines: readonly string[], p?: Progress): Promise<ScalePoint[]> {
  const out: ScalePoint[] = [];
  for (const n of counts) {
    const compiled = syntheticRules(n);
    const before = heapUsed();
    const r = await runLoad({ name: `rules ${n}`, compiled, lines, rate: 0, warm: Math.min(5000, lines.length), gc, ...(p === undefined ? {} : { progress: p }) });
    out.push({ x: n, counters: compiled.counters.length, records: r.records, recordsPerSec: r.recordsPerSec, heapMiB: mib((r.retainedHeap ?? before) - before), rssMiB: r.rssMiB, keys: r.keys });
  }
  return out;
}

/** One voice record per key: caller and subscription both new each time. */
export function keyTraffic (keys: number, seed = 7): string[] {
  const lines = new Array<string>(keys);
  const t0 = Date.parse('2026-11-20T08:00:00Z');
  // A fixed permutation of digits from the seed: deterministic, distinct per key.
  for (let k = 0; k < keys; k++) {
    const n = (k * 2654435761 + seed) % 1e8;
    const num = String(Math.abs(n)).padStart(8, '0');
    lines[k] = `{"id":"k${k}","ts":${t0 + Math.floor(k / 50)},"account":"A${k % 5000}","subscription":"s${k}","caller":"+4915${String(k).padStart(9, '0')}","called":"+4930${num}","service":"voice","duration":${30 + (k % 90)}}`;
  }
  return lines;
}

const KEY_RULES = `  - { id: calls-per-caller, by: caller, measure: count, window: day, limit: 1000000 }
  - { id: minutes-per-sub, by: subscription, measure: sum(duration), window: day, limit: 100000000 }
`;

/** Heap a key-scaling point needs per key, bytes: a conservative reading of the 1M-key runs (~1.1 KB). */
const BYTES_PER_KEY_POINT = 1600;
/** A point runs in a child process with a larger heap only while it needs at most this share of the machine's memory. */
const CHILD_MEMORY_SHARE = 0.75;

const held: { lines?: readonly string[] | undefined, check?: number } = {};

/**
 * Key-scaling points (every record a new caller and a new subscription: two engine keys per
 * record). A point that fits this process's heap runs here; a bigger one (10M keys want
 * ~7 GiB, past Node's default heap of ~4 GiB) runs in a child process started with the heap it
 * needs, when the machine has that much memory; otherwise it is skipped and says why.
 */
export async function scaleKeys (sizes: readonly number[], p?: Progress): Promise<ScalePoint[]> {
  const out: ScalePoint[] = [];
  for (const keys of sizes) {
    // Two engine keys per record (~150 B each), the record's line, and room for the Maps to
    // double: past the heap limit the run would abort the process (it did at 3M keys with
    // the default 4 GiB).
    const need = keys * BYTES_PER_KEY_POINT;
    const room = 0.75 * (getHeapStatistics().heap_size_limit - heapUsed());
    if (need <= room) {
      out.push(await keyPoint(keys, p));
    } else if (need <= CHILD_MEMORY_SHARE * totalmem()) {
      p?.update(`keys ${keys.toLocaleString('en-US')}: in a child process with ${mib(need).toLocaleString('en-US')} MiB of heap`);
      out.push(await keyPointInChild(keys, mib(need)));
    } else {
      out.push({ x: keys, skipped: `needs ~${mib(need)} MiB of heap; this machine has ${mib(totalmem())} MiB of memory`, records: 0, recordsPerSec: 0, heapMiB: 0, rssMiB: 0 });
      p?.done(`keys ${keys}: skipped, needs ~${mib(need)} MiB of heap`);
    }
  }
  return out;
}

/** One key-scaling point in this process. */
export async function keyPoint (keys: number, p?: Progress): Promise<ScalePoint> {
  const compiled = compileRules(parseRules(HEAD + KEY_RULES, 'keys.yaml', { readFile: () => '' }));
  const lines = keyTraffic(keys);
  // Held in a module variable: a local no longer used could be collected by the gc inside
  // runLoad, and its lines would then cancel out the engine's growth.
  held.lines = lines;
  // Flattened now (V8 flattens a concatenated string on first character access): JSON.parse
  // would flatten them during the run, and the freed pieces would cancel out the engine's growth.
  let sum = 0;
  for (const line of lines) sum += line.charCodeAt(0);
  held.check = sum;
  const before = heapUsed();
  const r = await runLoad({ name: `keys ${keys}`, compiled, lines, rate: 0, gc, ...(p === undefined ? {} : { progress: p }) });
  // The lines are alive before and after: the growth is what the engine keeps for the keys.
  const grown = Math.max(0, (r.retainedHeap ?? before) - before);
  held.lines = undefined;
  gc();
  return { x: keys, records: r.records, recordsPerSec: r.recordsPerSec, heapMiB: mib(grown), rssMiB: r.rssMiB, keys: r.keys, bytesPerKey: Math.round(grown / Math.max(1, r.keys)) };
}

/** One key-scaling point in a child process (bench/scale-keys-point.ts) with `heapMiB` of heap; its JSON line is the point. */
export async function keyPointInChild (keys: number, heapMiB: number): Promise<ScalePoint> {
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMiB}`, fileURLToPath(new URL('./scale-keys-point.js', import.meta.url)), String(keys)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
  const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null];
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    const why = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`;
    return { x: keys, skipped: `the child process with ${heapMiB} MiB of heap failed (${why}): ${stderr.trim().split('\n').pop() ?? ''}`, records: 0, recordsPerSec: 0, heapMiB: 0, rssMiB: 0 };
  }
  return JSON.parse(line) as ScalePoint;
}

export async function scaleThreads (threads: readonly number[], compiled: CompiledRules, lines: readonly string[], p?: Progress): Promise<ScalePoint[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-threads-'));
  try {
    const input = join(dir, 'traffic.jsonl');
    writeFileSync(input, lines.join('\n') + '\n');
    const out: ScalePoint[] = [];
    for (const t of threads) {
      p?.update(`threads ${t}: replaying ${lines.length.toLocaleString('en-US')} records`);
      const data = t > 0 ? mkdtempSync(join(dir, 'data-')) : undefined;
      const t0 = performance.now();
      const s = await replay({ compiled, inputs: [input], alerts: join(dir, `alerts-${t}.jsonl`), threads: t, dataPath: data, progress: (x) => { p?.update(`threads ${t}: ${x.read.toLocaleString('en-US')} records`); } });
      const seconds = (performance.now() - t0) / 1000;
      if (data !== undefined) rmSync(data, { recursive: true, force: true });
      out.push({ x: t, records: s.read, recordsPerSec: Math.round(s.read / seconds), heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576), rssMiB: Math.round(process.memoryUsage().rss / 1048576) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
