/**
 * replay: `vigil replay` end to end with durable commits, and the streaming pipeline's latency.
 *   - throughput: replay() (cluster/replay.ts) of the demo traffic through examples/rules.yaml
 *     with 0 (the single-threaded core, the baseline), 1 and 2 shard threads (LMDB in a fresh
 *     temporary data folder per sample, alerts to a file), samples interleaved as the harness
 *     does; records/s and the ratio to the core.
 *   - latency: the streaming pipeline of `vigil serve` (cluster/stream.ts, in-process, no HTTP)
 *     on 2 shard threads with durable commits and checkpoints, fed open-loop at half the
 *     measured 2-thread rate (records are offered on schedule whether or not it keeps up);
 *     per record, the time from its scheduled arrival to its epoch's alerts reaching the sink
 *     and to its acknowledgement; per actual alert, arrival to sink. p50/p99/p99.9. Then the
 *     same at a low rate (--floor-rate, 2,000/s for --floor-seconds 8): the floor when CPU is
 *     not the limit. Each run is preceded by --warm-seconds at its rate on the same threads,
 *     reported on a row of its own (a node warms once and then runs for months).
 * Goals (issue): 2 threads >= 250,000 records/s durable; p99 < 10 ms at half that rate.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js replay
 *      (or: node --expose-gc dist/bench/replay.bench.js [--samples 3] [--warmup 1]
 *       [--budget 45] [--latency-seconds 15] [--warm-seconds 3] [--rate N] [--floor-rate N]
 *       [--floor-seconds S]:
 *       --budget SECONDS stops new rounds of throughput samples after that long (at least 2
 *       rounds); --rate fixes the offered rate instead of half the 2-thread rate)
 * Needs: the build and ~1 GiB of temporary disk. Traffic: examples/dataset.ts, seed 42.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledRules } from '../core/compile.js';
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import { replay } from '../cluster/replay.js';
import type { CaseResult } from './harness.js';
import { caseResult, intArg, report, sink } from './harness.js';
import { loadRules } from './rules.js';
import { runOpenLoop } from './open-loop.js';
import { summarize, type Latencies } from './latencies.js';

const RULES = fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url));
const GOAL_RATE = 250_000;
const GOAL_P99_MS = 10;
/** Serve's defaults. */
const BATCH = { maxRecords: 1000, maxWaitMs: 5 };
/**
 * Each latency run first offers `--warm-seconds` (default 3) of records at its rate, which warm
 * the new actor threads' JIT and LMDB maps: they are reported on their own row, not in the
 * steady figures. A 10 % share (0.8 s of an 8 s run) was too short: per second of a run at
 * 8,000/s, p50/p99 was 557/748 and 399/604 ms in the first two seconds, 38-54/92-134 ms after,
 * and the cold start's backlog alone set the run's p99.
 */
const DEFAULT_WARM_SECONDS = 3;

const gc = (globalThis as { gc?: () => void }).gc;

interface AsyncCase {
  readonly name: string;
  /** one timed sample: returns the records it did and the ns it took */
  readonly run: (input: string) => Promise<{ records: number, ns: number }>;
}

/**
 * harness.runCases for async cases: warm-up rounds on a short input, then rounds of one
 * sample per case, interleaved (A B C A B C …), until `samples` or the budget runs out.
 */
async function runInterleaved (cases: readonly AsyncCase[], input: string, warmInput: string, o: { warmup: number, samples: number, minSamples: number, budgetMs: number }): Promise<CaseResult[]> {
  for (let i = 0; i < o.warmup; i++) for (const c of cases) await c.run(warmInput);
  const times = cases.map(() => [] as number[]);
  const started = performance.now();
  for (let s = 0; s < o.samples; s++) {
    if (s >= o.minSamples && performance.now() - started > o.budgetMs) break;
    for (let i = 0; i < cases.length; i++) {
      gc?.();
      const { records, ns } = await cases[i]!.run(input);
      times[i]!.push(ns / records);
    }
  }
  return cases.map((c, i) => caseResult(c.name, times[i]!));
}

function replayCase (compiled: CompiledRules, threads: number, dir: string): AsyncCase {
  return {
    name: threads === 0 ? 'core (threads 0)' : `replay ${threads} thread${threads === 1 ? '' : 's'}`,
    run: async (input) => {
      const data = threads > 0 ? mkdtempSync(join(dir, 'data-')) : undefined;
      try {
        const t0 = process.hrtime.bigint();
        const s = await replay({ compiled, inputs: [input], alerts: join(dir, `alerts-${threads}.jsonl`), threads, dataPath: data });
        const ns = Number(process.hrtime.bigint() - t0);
        sink.value += s.alerts;
        return { records: s.read, ns };
      } finally {
        if (data !== undefined) rmSync(data, { recursive: true, force: true });
      }
    },
  };
}

interface LatencyRun {
  readonly rate: number;
  readonly offered: number;
  /** achieved: records acknowledged / seconds from the first scheduled arrival to the last ack */
  readonly achieved: number;
  readonly epochs: number;
  readonly toSink: Latencies;
  readonly toAck: Latencies;
  readonly alerts: Latencies;
  /** arrival → sink over the warm-up records (not in toSink) */
  readonly warmToSink: Latencies;
  readonly warmRecords: number;
}

/** Open-loop run of the streaming pipeline at `rate` records/s over `lines` (bench/open-loop.ts). */
async function measureLatency (compiled: CompiledRules, lines: readonly string[], rate: number, dir: string, warm: number): Promise<LatencyRun> {
  const data = mkdtempSync(join(dir, 'stream-'));
  const n = lines.length;
  const toSink = new Float64Array(n).fill(NaN);
  const toAck = new Float64Array(n).fill(NaN);
  const alertMs: number[] = [];
  try {
    const run = await runOpenLoop({
      compiled,
      lines,
      rate,
      threads: 2,
      dataPath: data,
      written: (seq, ms) => { toSink[seq] = ms; },
      alert: (seq, ms) => { if (seq >= warm) alertMs.push(ms); },
      acked: (seq, ms) => { toAck[seq] = ms; },
    });
    return {
      rate,
      offered: n,
      achieved: Math.round(n / run.seconds),
      epochs: run.epochs,
      toSink: summarize(toSink.subarray(warm)),
      warmToSink: summarize(toSink.subarray(0, warm)),
      warmRecords: warm,
      toAck: summarize(toAck.subarray(warm)),
      alerts: summarize(alertMs),
    };
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

async function main (): Promise<void> {
  const samples = intArg('samples', 3);
  const warmup = intArg('warmup', 1);
  const budgetMs = intArg('budget', 45) * 1000;
  const latencySeconds = intArg('latency-seconds', 15);
  const warmSeconds = intArg('warm-seconds', DEFAULT_WARM_SECONDS);
  const compiled = loadRules(RULES);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-replay-'));
  try {
    const traffic = generateTraffic(DEFAULTS);
    const input = join(dir, 'traffic.jsonl');
    const warmInput = join(dir, 'warm.jsonl');
    writeFileSync(input, traffic.lines.join('\n') + '\n');
    writeFileSync(warmInput, traffic.lines.slice(0, Math.ceil(traffic.lines.length / 6)).join('\n') + '\n');

    const results = await runInterleaved([0, 1, 2].map((t) => replayCase(compiled, t, dir)), input, warmInput, { warmup, samples, minSamples: Math.min(2, samples), budgetMs });
    const two = results[2]!;
    const rate = intArg('rate', Math.max(1, Math.round(two.opsPerSec / 2)));

    // Enough records for the run to last about warmSeconds + latencySeconds at `rate` (more days when needed).
    const wanted = Math.ceil(rate * (warmSeconds + latencySeconds));
    const days = Math.min(30, Math.max(DEFAULTS.days, Math.ceil(wanted / (traffic.lines.length / DEFAULTS.days))));
    const lines = days === DEFAULTS.days ? traffic.lines : generateTraffic({ ...DEFAULTS, days }).lines;
    gc?.();
    const latency = await measureLatency(compiled, lines.slice(0, wanted), rate, dir, rate * warmSeconds);
    // The same pipeline far from saturation: what a record waits when CPU is not the limit.
    const floorRate = intArg('floor-rate', 2_000);
    gc?.();
    const floor = await measureLatency(compiled, traffic.lines.slice(0, floorRate * (warmSeconds + intArg('floor-seconds', 8))), floorRate, dir, floorRate * warmSeconds);

    report('replay', results, {
      records: traffic.lines.length,
      rules: compiled.rules.length,
      counters: compiled.counters.length,
      seed: DEFAULTS.seed,
      days: DEFAULTS.days,
      durable: true,
      // The machines are shared: what else ran is part of the figure.
      loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
      latency: { ...latency, batch: BATCH, threads: 2, latencyDays: days, warmSeconds },
      floor,
    }, 'core (threads 0)');
    const rows = (run: LatencyRun): Array<Record<string, unknown>> => {
      const at = `${run.rate.toLocaleString('en-US')}/s`;
      return [
        { rate: at, from: 'arrival → epoch alerts in the sink (every record)', ...run.toSink },
        { rate: at, from: 'arrival → acknowledged (every record)', ...run.toAck },
        { rate: at, from: 'arrival → alert in the sink (actual alerts)', ...run.alerts },
        { rate: at, from: `warm-up: the first ${warmSeconds} s, arrival → sink (not above)`, ...run.warmToSink },
      ];
    };
    console.log(`\nlatency (ms), 2 shard threads, durable, batch ${BATCH.maxRecords} records / ${BATCH.maxWaitMs} ms, offered open-loop at half the 2-thread rate (achieved ${latency.achieved.toLocaleString('en-US')}/s, ${latency.epochs} epochs of ${Math.round(latency.offered / latency.epochs)} records on average) and at ${floor.rate.toLocaleString('en-US')}/s (${floor.epochs} epochs of ${Math.round(floor.offered / floor.epochs)}):`);
    console.table([...rows(latency), ...rows(floor)]);
    const holds = (ok: boolean): string => ok ? 'holds' : 'does NOT hold';
    console.log(`2 threads: ${two.opsPerSec.toLocaleString('en-US')} records/s durable (goal >= ${GOAL_RATE.toLocaleString('en-US')}): ${holds(two.opsPerSec >= GOAL_RATE)}`);
    console.log(`p99 arrival → alert in the sink: ${latency.toSink.p99} ms at ${latency.rate.toLocaleString('en-US')} records/s (goal < ${GOAL_P99_MS} ms at half of ${GOAL_RATE.toLocaleString('en-US')} records/s): ${latency.rate * 2 >= GOAL_RATE ? holds(latency.toSink.p99 < GOAL_P99_MS) : `${holds(latency.toSink.p99 < GOAL_P99_MS)} at this rate, but the rate is below the goal's ${(GOAL_RATE / 2).toLocaleString('en-US')}`}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
