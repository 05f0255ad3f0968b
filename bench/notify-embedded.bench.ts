/**
 * notify-embedded: does a burst of 10,000 alerts to a dead webhook slow record processing, in
 * the shape `vigil serve` runs without NATS? There a shard actor thread applies the records
 * with its counters durable in LMDB, and the main thread reads, prepares and routes them and
 * hands each committed epoch's alerts to the notification actor (cluster/serve.ts, NodeSink).
 * notify.bench asks the same of the single-threaded core, with the enqueue calls on the
 * detecting thread itself: the worst case, which no node has. Two cases, samples interleaved
 * (A B, B A, …), each replaying the same records through a fresh EmbeddedEngine (1 shard
 * thread, or --threads N, a fresh LMDB folder, epochs of 16,384 records, 4 in flight, as `vigil replay`):
 *   - embedded: no notifier.
 *   - embedded + dead webhook: a notification thread (cluster/notifier.ts), opened once
 *     before the samples as a node's is, with one webhook channel pointing at a closed port
 *     (production back-off). As each epoch of the first half of the replay comes back, the
 *     main thread enqueues its share of 20 batches of 500 new alerts (10,000 a sample, new
 *     ids each sample), not awaited, as NodeSink does; the replay ends once they are all
 *     committed to the outbox.
 * Records/s: records over the wall time from the first epoch submitted to the last result
 * (and, with the notifier, the last enqueue) in. Goal (issue): within 5 % of embedded. Also
 * printed: the whole process's CPU time per replay (every thread).
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js notify-embedded
 *      (or: node --expose-gc dist/bench/notify-embedded.bench.js [--samples 9] [--warmup 1]
 *       [--records 60000] [--alerts 10000] [--threads 1] [--budget 120]: no new round after SECONDS, but at
 *       least 3 rounds)
 * Needs: the build and a little temporary disk (an LMDB folder per sample and the outbox,
 * removed). Traffic: examples/dataset.ts, seed 42; the alerts are synthetic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledRules } from '../core/compile.js';
import { Ingest } from '../core/ingest.js';
import type { UsageRecord } from '../core/usage-record.js';
import { EmbeddedEngine, type EpochResult } from '../cluster/embedded.js';
import { Notifications } from '../cluster/notifier.js';
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import type { CaseResult } from './harness.js';
import { caseResult, intArg, median, percentile, report, sink } from './harness.js';
import { closedPort, makeAlerts } from './dead-webhook.js';
import { loadRules } from './rules.js';

const RULES = fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url));
const EPOCH = 16_384;
const DEPTH = 4;
const BATCHES = 20;

interface Sample { readonly perRecord: number, readonly cpuMs: number }

/** One replay through a fresh embedded engine; `onEpoch(i)` runs as epoch i's result comes back and may start (not await) work, which the replay waits for at its end. */
async function replay (compiled: CompiledRules, lines: readonly string[], threads: number, onEpoch?: (i: number) => Promise<void> | undefined): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-embedded-'));
  const engine = new EmbeddedEngine({ config: compiled.config, compiled, dataPath: dir, actors: threads, shards: 64 });
  try {
    // The thread's start-up (its module graph, opening LMDB) stays out of the timed replay.
    await engine.stats();
    const ingest = new Ingest(compiled);
    const pending: Array<Promise<EpochResult>> = [];
    const extra: Array<Promise<void>> = [];
    let finished = 0;
    let alerts = 0;
    const finish = async (): Promise<void> => {
      const result = await pending.shift()!;
      alerts += result.alerts.length;
      engine.release(result.epoch);
      const work = onEpoch?.(finished++);
      if (work !== undefined) extra.push(work);
    };
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let epoch = 1;
    let records: UsageRecord[] = [];
    let index: number[] = [];
    let watermark: number[] = [];
    const submit = async (): Promise<void> => {
      pending.push(engine.apply(epoch++, records, index, watermark));
      records = [];
      index = [];
      watermark = [];
      if (pending.length >= DEPTH) await finish();
    };
    for (let i = 0; i < lines.length; i++) {
      let raw: unknown;
      try { raw = JSON.parse(lines[i] as string); } catch { raw = undefined; }
      if (raw !== undefined) {
        const p = ingest.prepare(raw, { source: 'bench', line: i + 1 });
        if (p.ok) {
          records.push(p.record);
          index.push(i % EPOCH);
          watermark.push(ingest.watermark);
        }
      }
      if ((i + 1) % EPOCH === 0) await submit();
    }
    if (records.length > 0) await submit();
    while (pending.length > 0) await finish();
    await Promise.all(extra);
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    sink.value += alerts;
    return { perRecord: ns / lines.length, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main (): Promise<void> {
  const samples = intArg('samples', 9);
  const warmup = intArg('warmup', 1);
  const budgetMs = intArg('budget', 120) * 1000;
  const nAlerts = intArg('alerts', 10_000);
  const threads = intArg('threads', 1);
  const compiled = loadRules(RULES);
  const lines = generateTraffic(DEFAULTS).lines.slice(0, intArg('records', 60_000));
  const port = await closedPort();
  const outbox = mkdtempSync(join(tmpdir(), 'vigil-bench-notify-'));
  const notifications = await Notifications.open({
    config: { file: '', rules: [], channels: new Map([['noc', { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/alerts`, secret: 'bench' } }]]) },
    dataPath: join(outbox, 'notify'),
    log: false,
  });
  let round = 0;
  const per = Math.ceil(nAlerts / BATCHES);
  const cases: Array<{ name: string, run: () => Promise<Sample> }> = [
    { name: 'embedded', run: async () => await replay(compiled, lines, threads) },
    {
      name: 'embedded + dead webhook',
      run: async () => {
        // New ids every sample: the same ids again would be dropped as already queued.
        const burst = makeAlerts(nAlerts, `r${round}-`);
        const epochs = Math.ceil(lines.length / EPOCH);
        const perEpoch = Math.ceil(BATCHES / Math.max(1, Math.floor(epochs / 2)));
        return await replay(compiled, lines, threads, (i) => {
          const from = i * perEpoch * per;
          if (from >= burst.length) return undefined;
          const batches: Array<Promise<void>> = [];
          for (let b = 0; b < perEpoch && from + b * per < burst.length; b++) batches.push(notifications.enqueue(burst.slice(from + b * per, from + (b + 1) * per)));
          return Promise.all(batches).then(() => undefined);
        });
      },
    },
  ];
  const times = cases.map(() => [] as number[]);
  const cpus = cases.map(() => [] as number[]);
  const loads: number[] = [];
  try {
    for (let w = 0; w < warmup; w++) for (const c of cases) await c.run();
    const started = performance.now();
    for (let s = 0; s < samples; s++) {
      if (s >= 3 && performance.now() - started > budgetMs) break;
      round = s;
      for (let k = 0; k < cases.length; k++) {
        const i = (s + k) % cases.length;
        const r = await cases[i]!.run();
        times[i]!.push(r.perRecord);
        cpus[i]!.push(r.cpuMs);
      }
      loads.push(loadavg()[0]!);
    }
    const stats = (await notifications.stats()).channels[0]!;
    const results: CaseResult[] = cases.map((c, i) => caseResult(c.name, times[i]!));
    report('notify-embedded', results, { records: lines.length, alerts: nAlerts, batches: BATCHES, epoch: EPOCH, threads, rules: compiled.rules.length, seed: DEFAULTS.seed, loadavg1m: loads.map((l) => Math.round(l * 10) / 10) }, 'embedded');
    console.log(`dead webhook at the end: queued ${stats.queued}, failed attempts ${stats.failedAttempts}, delivered ${stats.delivered}`);
    console.log(`process CPU per replay (median): ${cases.map((c, i) => `${c.name} ${median(cpus[i]!).toFixed(0)} ms`).join(', ')}`);
    const ratios = times[1]!.map((t, r) => t / times[0]![r]!).sort((a, b) => a - b);
    const paired = (percentile(ratios, 0.5) - 1) * 100;
    const slower = (1 - results[1]!.opsPerSec / results[0]!.opsPerSec) * 100;
    console.log(`${cases[1]!.name}: ${slower.toFixed(1)} % slower than embedded by medians, ${paired.toFixed(1)} % by the median of per-round ratios (goal <= 5 %): ${paired <= 5 && slower <= 5 ? 'holds' : 'does NOT hold'}`);
  } finally {
    await notifications.terminate();
    rmSync(outbox, { recursive: true, force: true });
  }
}

await main();
