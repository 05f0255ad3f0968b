/**
 * `vigil bench`: the load harness (issue #7). In one run, on the same seeded traffic:
 *   1. latency and detection: the single-threaded core fed open-loop at the preset's fixed
 *      arrival rate; record-to-processed and record-to-alert p50/p99/p99.9 (HdrHistogram),
 *      CPU, memory; every injected fraud scored (recall, clean accounts alerted, time to
 *      detect);
 *   2. the embedded engine (serve's streaming pipeline, shard threads, LMDB) open-loop at the
 *      preset's embedded rate (`--threads N`, 0 skips it);
 *   3. throughput: the same core as fast as it goes, beside the baselines (ceiling, naive
 *      Map, rate-limiter-flexible memory and Redis), with Vigil's ratio to each;
 *   4. scaling: rules (1-200), keys (10k-1M, 2M in `full` when the heap has room), shard threads (0-2).
 * Prints progress on stderr, a table per part and one JSON line on stdout; `--chart FILE.svg`
 * draws the fixed-rate run's timeline; `--results FILE` appends a Markdown section.
 *
 * Run: npx tsc -p tsconfig.json && node bin/vigil.js bench [--preset tiny|quick|full]
 *        [--rate N] [--threads N] [--chart FILE.svg] [--results bench/RESULTS.md] [--no-redis]
 *        [--no-scaling] [--quiet]
 * Needs: the build; a redis-server on 127.0.0.1:6379 (VIGIL_BENCH_REDIS to change) for the
 * Redis baseline, skipped with a message when it is not reachable; temporary disk for the
 * threads runs. Drives the embedded engine in this process only: a cluster over NATS is not
 * in this build.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { generateTraffic } from '../examples/dataset.js';
import { machine } from './harness.js';
import { loadRules } from './rules.js';
import { PRESETS } from './presets.js';
import type { Preset } from './presets.js';
import { runLoad } from './load.js';
import { runStreamLoad } from './load-stream.js';
import type { StreamLoadResult } from './load-stream.js';
import type { LoadResult } from './load.js';
import { progress } from './progress.js';
import { accountsOf, scoreQuality } from './quality.js';
import type { Quality } from './quality.js';
import { timelineSvg } from './chart.js';
import type { BaselineResult } from './baselines/common.js';
import { sink as baselineSink } from './baselines/common.js';
import { ceiling } from './baselines/ceiling.js';
import { naiveMap } from './baselines/naive-map.js';
import { rateLimiterMemory, rateLimiterRedis } from './baselines/rate-limiter.js';
import { scaleKeys, scaleRules, scaleThreads } from './scaling.js';
import type { ScalePoint } from './scaling.js';

const RULES = fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url));

export const BENCH_USAGE = 'vigil bench [--preset tiny|quick|full] [--rate N] [--threads N] [--chart FILE.svg] [--results FILE] [--no-redis] [--no-scaling] [--quiet]';

/** The row of Vigil in the throughput rounds. */
const VIGIL_ROW = 'vigil core (throughput rounds)';

const GOALS = { redisRatio: 10, ceilingShare: 0.4, recall: 1, falseAlertRate: 0.01, medianDetectMs: 1000 } as const;

export interface BenchReport {
  readonly bench: 'load';
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly results: ReadonlyArray<{ name: string, opsPerSec: number, medianNs: number, p95Ns: number, samples: number }>;
  readonly params: Record<string, unknown>;
  readonly load: { readonly fixed: Omit<LoadResult, 'timeline' | 'scheduledAt' | 'alertList'>, readonly max: Omit<LoadResult, 'timeline' | 'scheduledAt' | 'alertList'>, readonly embedded: StreamLoadResult | null };
  /** Vigil in the interleaved throughput rounds */
  readonly throughput: BaselineResult;
  readonly baselines: readonly BaselineResult[];
  /** median over rounds of Vigil's records/s over the baseline's in the same round */
  readonly ratios: Record<string, number | null>;
  readonly quality: Omit<Quality, 'cases'> & { cases: Quality['cases'] };
  readonly scaling: { rules: ScalePoint[], keys: ScalePoint[], threads: ScalePoint[] };
  readonly goals: Record<string, { goal: string, value: number | null, holds: boolean | null }>;
}

function slim (r: LoadResult): Omit<LoadResult, 'timeline' | 'scheduledAt' | 'alertList'> {
  const { timeline: _t, scheduledAt: _s, alertList: _a, ...rest } = r;
  return rest;
}

function positive (name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

const n0 = (x: number): string => Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
const pct = (x: number): string => Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '-';

export async function benchCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      preset: { type: 'string', default: 'quick' },
      rate: { type: 'string' },
      threads: { type: 'string' },
      chart: { type: 'string' },
      results: { type: 'string' },
      'no-redis': { type: 'boolean', default: false },
      'no-scaling': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const base = PRESETS[values.preset];
  if (base === undefined) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(values.preset)}`);
  const threads = values.threads === undefined ? base.streamThreads : values.threads === '0' ? 0 : positive('threads', values.threads);
  const preset: Preset = { ...base, rate: positive('rate', values.rate) ?? base.rate, redis: base.redis && !values['no-redis'], streamThreads: threads ?? 0 };
  const scaling = !values['no-scaling'];
  const p = progress(process.stderr, values.quiet);
  const command = `vigil bench ${args.join(' ')}`.trim();
  const started = performance.now();
  const loadBefore = loadavg();

  // Traffic and rules.
  p.update(`generating traffic: ${preset.days} days, ${preset.accounts} accounts, seed ${preset.seed}`);
  const traffic = generateTraffic({ days: preset.days, accounts: preset.accounts, seed: preset.seed });
  const lines = preset.records > 0 ? traffic.lines.slice(0, preset.records) : traffic.lines;
  const compiled = loadRules(RULES);
  const counters = compiled.counters.map((c) => c.rules[0]?.id ?? String(c.index));
  const warm = Math.min(20_000, Math.ceil(lines.length / 6));
  p.done(`traffic: ${lines.length.toLocaleString('en-US')} records, ${traffic.labels.filter((l) => l.kind === 'fraud').length} injected frauds; rules: ${compiled.rules.length} (${counters.length} counters)`);

  // 1. Fixed rate: latency and detection quality.
  const fixed = await runLoad({ compiled, lines, rate: preset.rate, warm, progress: p });
  p.done(`fixed rate ${n0(preset.rate)}/s: achieved ${n0(fixed.recordsPerSec)}/s, p99 ${fixed.latency.p99} ms, ${fixed.alerts} alerts`);
  const quality = scoreQuality(traffic.labels, fixed, accountsOf(lines));
  let chart: string | undefined;
  if (values.chart !== undefined) {
    writeFileSync(values.chart, timelineSvg(`vigil bench --preset ${preset.name}: core at ${n0(preset.rate)} records/s offered (${machine().cpu}, ${machine().cores} cores)`, fixed.timeline));
    chart = values.chart;
  }

  // 2. As fast as it goes, and the baselines on the same lines.
  const max = await runLoad({ compiled, lines, rate: 0, warm, progress: p });
  p.done(`max: ${n0(max.recordsPerSec)}/s`);
  let embedded: StreamLoadResult | null = null;
  if (preset.streamThreads > 0) {
    embedded = await runStreamLoad({ compiled, lines: lines.slice(0, preset.streamRecords), rate: preset.streamRate, threads: preset.streamThreads, progress: p });
    p.done(`${embedded.name}: achieved ${n0(embedded.recordsPerSec)}/s, p99 to output ${embedded.latency.p99} ms, to ack ${embedded.ackLatency.p99} ms`);
  }
  // Throughput beside the baselines: rounds interleaved (Vigil, ceiling, naive, memory,
  // Redis, then again), so a busy phase of the shared machine slows every case alike; each
  // ratio is the median over rounds of Vigil's records/s in that round over the baseline's.
  const tput = preset.throughputRecords > 0 ? lines.slice(0, preset.throughputRecords) : lines;
  const input = { lines: tput, counters, budgetSeconds: preset.baselineSeconds };
  const cases: Array<{ name: string, run: () => Promise<BaselineResult> }> = [
    { name: VIGIL_ROW, run: async () => { const r = await runLoad({ name: VIGIL_ROW, compiled, lines: tput, rate: 0, warm: 0, progress: p }); return { name: VIGIL_ROW, records: r.records, seconds: r.seconds, recordsPerSec: r.recordsPerSec }; } },
    { name: 'ceiling (typed-array slots)', run: async () => ceiling(input) },
    { name: 'naive Map + string keys', run: async () => naiveMap(input) },
    { name: 'rate-limiter-flexible memory', run: async () => await rateLimiterMemory(input) },
    { name: 'rate-limiter-flexible Redis', run: async () => preset.redis ? await rateLimiterRedis(input) : { name: 'rate-limiter-flexible Redis', records: 0, seconds: 0, recordsPerSec: 0, skipped: 'redis baseline off (--no-redis or preset)' } },
  ];
  const rounds = cases.map(() => [] as BaselineResult[]);
  for (let round = 0; round < preset.rounds; round++) {
    for (let c = 0; c < cases.length; c++) {
      const r = await cases[c]!.run();
      rounds[c]!.push(r);
      p.done(`round ${round + 1}/${preset.rounds} ${r.name}: ${r.skipped === undefined ? `${n0(r.recordsPerSec)}/s` : `skipped: ${r.skipped}`}`);
      if (r.skipped !== undefined) cases[c] = { name: r.name, run: async () => r };
    }
  }
  const medianOf = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
  const vigilRounds = rounds[0]!;
  const throughput: BaselineResult = { ...vigilRounds[0]!, recordsPerSec: medianOf(vigilRounds.map((r) => r.recordsPerSec)), note: `median of ${vigilRounds.length} round(s)` };
  const baselines: BaselineResult[] = rounds.slice(1).map((rs) => rs[0]!.skipped !== undefined
    ? rs[0]!
    : { ...rs[0]!, recordsPerSec: medianOf(rs.map((r) => r.recordsPerSec)), note: `median of ${rs.length} round(s)${rs[0]!.note === undefined ? '' : `; ${rs[0]!.note}`}` });
  const ratios: Record<string, number | null> = {};
  baselines.forEach((b, i) => {
    const rs = rounds[i + 1]!;
    ratios[b.name] = b.skipped !== undefined ? null : Math.round(medianOf(rs.map((r, k) => vigilRounds[k]!.recordsPerSec / r.recordsPerSec)) * 1000) / 1000;
  });

  // 3. Scaling.
  const scale = { rules: [] as ScalePoint[], keys: [] as ScalePoint[], threads: [] as ScalePoint[] };
  if (scaling) {
    if (preset.rules.length > 0) { scale.rules = await scaleRules(preset.rules, lines.slice(0, preset.rulesRecords), p); p.done('scaling: rules done'); }
    if (preset.keys.length > 0) { scale.keys = await scaleKeys(preset.keys, p); p.done('scaling: keys done'); }
    if (preset.threads.length > 0) { scale.threads = await scaleThreads(preset.threads, compiled, lines.slice(0, preset.threadsRecords), p); p.done('scaling: threads done'); }
  }

  const redis = baselines.find((b) => b.name.includes('Redis'));
  const ceil = baselines.find((b) => b.name.startsWith('ceiling'));
  const redisRatio = redis === undefined ? null : ratios[redis.name] ?? null;
  const ceilingShare = ceil === undefined ? null : ratios[ceil.name] ?? null;
  const goal = (text: string, value: number | null, ok: (v: number) => boolean): { goal: string, value: number | null, holds: boolean | null } =>
    ({ goal: text, value, holds: value === null || Number.isNaN(value) ? null : ok(value) });
  const goals = {
    redisRatio: goal(`vigil >= ${GOALS.redisRatio}x rate-limiter-flexible Redis`, redisRatio, (v) => v >= GOALS.redisRatio),
    ceilingShare: goal(`vigil >= ${GOALS.ceilingShare * 100} % of the ceiling`, ceilingShare, (v) => v >= GOALS.ceilingShare),
    recall: goal('every injected fraud detected (recall)', Math.round(quality.recall * 1000) / 1000, (v) => v >= GOALS.recall),
    falseAlertRate: goal(`< ${GOALS.falseAlertRate * 100} % of clean accounts alerted`, Math.round(quality.falseAlertRate * 10000) / 10000, (v) => v < GOALS.falseAlertRate),
    medianDetectMs: goal(`median time to detect < ${GOALS.medianDetectMs} ms at the fixed rate (wall)`, quality.medianWallMs, (v) => v < GOALS.medianDetectMs),
  };

  const m = machine();
  const perRecord = (rps: number): number => rps > 0 ? Math.round(1e10 / rps) / 10 : NaN;
  const results = [
    { name: fixed.name, opsPerSec: fixed.recordsPerSec, medianNs: perRecord(fixed.recordsPerSec), p95Ns: perRecord(fixed.recordsPerSec), samples: 1 },
    { name: max.name, opsPerSec: max.recordsPerSec, medianNs: perRecord(max.recordsPerSec), p95Ns: perRecord(max.recordsPerSec), samples: 1 },
    ...(embedded === null ? [] : [{ name: embedded.name, opsPerSec: embedded.recordsPerSec, medianNs: perRecord(embedded.recordsPerSec), p95Ns: perRecord(embedded.recordsPerSec), samples: 1 }]),
    ...[throughput, ...baselines].filter((b) => b.skipped === undefined).map((b, i) => {
      const rs = (i === 0 ? vigilRounds : rounds.find((x) => x[0]!.name === b.name) ?? []).map((x) => perRecord(x.recordsPerSec)).sort((a, c) => a - c);
      return { name: b.name, opsPerSec: b.recordsPerSec, medianNs: perRecord(b.recordsPerSec), p95Ns: rs[rs.length - 1] ?? NaN, samples: rs.length };
    }),
  ];
  const report: BenchReport = {
    bench: 'load',
    ...m,
    results,
    params: {
      command,
      preset: preset.name,
      rate: preset.rate,
      records: lines.length,
      days: preset.days,
      accounts: preset.accounts,
      seed: preset.seed,
      rules: compiled.rules.length,
      counters: counters.length,
      loadAverage: [...loadBefore, ...loadavg()].map((x) => Math.round(x * 100) / 100),
      seconds: Math.round((performance.now() - started) / 100) / 10,
      sink: baselineSink.value,
      ...(chart === undefined ? {} : { chart }),
    },
    load: { fixed: slim(fixed), max: slim(max), embedded },
    throughput,
    baselines,
    ratios,
    quality,
    scaling: scale,
    goals,
  };

  printTables(report, fixed, max);
  console.log(JSON.stringify(report));
  if (values.results !== undefined) appendFileSync(values.results, markdown(report));
  return 0;
}

function printTables (r: BenchReport, fixed: LoadResult, max: LoadResult): void {
  console.log(`\nvigil bench (${String(r.params.preset)}): ${r.cpu}, ${r.cores} cores, node ${r.node}, ${n0(Number(r.params.records))} records, ${String(r.params.rules)} rules`);
  console.log('\nload (the single-threaded core in this process, and the embedded engine: shard threads, LMDB; latency in ms):');
  console.table([fixed, max, ...(r.load.embedded === null ? [] : [r.load.embedded])].map((x) => ({
    run: x.name,
    'records/s': n0(x.recordsPerSec),
    p50: x.latency.p50,
    p99: x.latency.p99,
    'p99.9': x.latency.p999,
    'alert p50': x.alertLatency.p50,
    'alert p99': x.alertLatency.p99,
    'alert p99.9': x.alertLatency.p999,
    alerts: x.alerts,
    'cpu %': x.cpuPercent,
    'rss MiB': x.rssMiB,
    'heap MiB': x.heapMiB,
  })));
  console.log(`\nthroughput beside the baselines (${n0(r.throughput.records)} records, rounds interleaved; ratio: median of per-round ratios):`);
  console.table([{ name: r.throughput.name, 'records/s': n0(r.throughput.recordsPerSec), 'vigil / this': '1.000', note: r.throughput.note ?? '' }, ...r.baselines.map((b) => ({
    name: b.name,
    'records/s': b.skipped === undefined ? n0(b.recordsPerSec) : 'skipped',
    'vigil / this': r.ratios[b.name] === null || r.ratios[b.name] === undefined ? '-' : (r.ratios[b.name] as number).toFixed(3),
    note: b.skipped ?? b.note ?? '',
  }))]);
  const q = r.quality;
  console.log(`\ndetection at ${n0(Number(r.params.rate))} records/s: ${q.detected}/${q.frauds} frauds detected, controls quiet ${q.controlsQuiet}/${q.controls}, clean accounts alerted ${q.cleanAlerted}/${q.cleanAccounts} (${pct(q.falseAlertRate)}), ${q.unexplainedAlerts} unexplained alerts`);
  console.table(q.cases.map((c) => ({ case: c.fraud, kind: c.kind, detected: c.detected, met: `${c.met}/${c.expected}`, 'first rule': c.firstRule ?? '', 'event time to alert (s)': c.eventSeconds ?? '', 'wall to alert (ms)': c.wallMs ?? '' })));
  for (const [name, pts] of Object.entries(r.scaling)) {
    if (pts.length === 0) continue;
    console.log(`\nscaling: ${name}`);
    console.table(pts.map((x) => x.skipped !== undefined ? { [name]: x.x, skipped: x.skipped } : ({ [name]: x.x, ...(x.counters === undefined ? {} : { counters: x.counters }), records: x.records, 'records/s': n0(x.recordsPerSec), 'heap MiB': x.heapMiB, 'rss MiB': x.rssMiB, ...(x.keys === undefined ? {} : { 'engine keys': x.keys }), ...(x.bytesPerKey === undefined ? {} : { 'bytes/key': x.bytesPerKey }) })));
  }
  console.log('\ngoals:');
  for (const g of Object.values(r.goals)) console.log(`  ${g.holds === null ? 'n/a ' : g.holds ? 'holds' : 'does NOT hold'}: ${g.goal} (${g.value === null ? 'not measured' : g.value})`);
}

const SCALE_TEXT: Readonly<Record<string, string>> = {
  rules: 'rules (synthetic sets of 1-200 rules over the head of the same traffic, core as fast as it goes; heap kept: after a full GC at the end, over before)',
  keys: 'keys (one new caller and subscription per record, 2 rules: count by caller, sum(duration) by subscription, so each record adds 2 engine keys; bytes/key is the kept heap per engine key; core as fast as it goes)',
  threads: '`vigil replay` shard threads (0: the core in the main thread, no store; 1-2: shard actors on worker threads, counters in LMDB in a temporary folder; RSS includes the workers)',
};

function markdown (r: BenchReport): string {
  const f = r.load.fixed;
  const x = r.load.max;
  const q = r.quality;
  const lines: string[] = [];
  lines.push('', `## ${new Date().toISOString().slice(0, 10)}: load harness (\`vigil bench --preset ${String(r.params.preset)}\`)`, '');
  lines.push(`Command: \`npx tsc -p tsconfig.json && ${String(r.params.command).replace(/^vigil/, 'node bin/vigil.js')}\`. Machine: ${r.cpu}, ${r.cores} cores, Node ${r.node}; load average ${(r.params.loadAverage as number[]).slice(0, 3).join(' / ')} before, ${(r.params.loadAverage as number[]).slice(3).join(' / ')} after. ${n0(Number(r.params.records))} generated records (seed ${String(r.params.seed)}, ${String(r.params.days)} days, ${String(r.params.accounts)} accounts) through examples/rules.yaml (${String(r.params.rules)} rules, ${String(r.params.counters)} counters); the whole run took ${String(r.params.seconds)} s.`, '');
  lines.push('| run | records/s | p50 ms | p99 ms | p99.9 ms | alert p50 ms | alert p99 ms | alert p99.9 ms | CPU % | RSS MiB |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const y of [f, x, ...(r.load.embedded === null ? [] : [r.load.embedded])]) lines.push(`| ${y.name} | ${n0(y.recordsPerSec)} | ${y.latency.p50} | ${y.latency.p99} | ${y.latency.p999} | ${y.alertLatency.p50} | ${y.alertLatency.p99} | ${y.alertLatency.p999} | ${y.cpuPercent} | ${y.rssMiB} |`);
  const e = r.load.embedded;
  if (e !== null) lines.push('', `The embedded row: \`vigil serve\`'s streaming pipeline in this process (no HTTP), ${e.threads} shard thread(s), LMDB commits and checkpoints in a temporary folder, epochs of 1000 records or 5 ms, the first ${n0(e.records)} records offered open-loop at ${n0(e.rate)}/s; latency to the epoch's output being written; to the acknowledgement (checkpointed) p50 ${e.ackLatency.p50} / p99 ${e.ackLatency.p99} / p99.9 ${e.ackLatency.p999} ms; CPU counts the worker threads.`);
  lines.push('', `Throughput beside the baselines: the first ${n0(r.throughput.records)} records, every case as fast as it goes, rounds interleaved (Vigil, ceiling, naive, memory, Redis, and again); records/s is the median over rounds, the ratio the median of the per-round ratios. The baselines count one counter per compiled counter keyed by account for every record (no filters, windows or thresholds).`, '', '| case (same lines, same run) | records/s | vigil / case | note |', '| --- | ---: | ---: | --- |', `| ${r.throughput.name} | ${n0(r.throughput.recordsPerSec)} | 1 | ${r.throughput.note ?? ''} |`);
  for (const b of r.baselines) lines.push(`| ${b.name} | ${b.skipped === undefined ? n0(b.recordsPerSec) : 'skipped'} | ${r.ratios[b.name] ?? '-'} | ${b.skipped ?? b.note ?? ''} |`);
  lines.push('', `Detection at ${n0(Number(r.params.rate))} records/s: **${q.detected}/${q.frauds}** injected frauds detected, controls quiet ${q.controlsQuiet}/${q.controls}, clean accounts alerted ${q.cleanAlerted}/${q.cleanAccounts} (${pct(q.falseAlertRate)}), median time to detect ${q.medianWallMs} ms wall (${q.medianEventSeconds} s of event time).`, '');
  lines.push('| case | detected | expectations met | first rule | event time to alert | wall time to alert |', '| --- | --- | ---: | --- | ---: | ---: |');
  for (const c of q.cases) lines.push(`| ${c.fraud}${c.kind === 'control' ? ' (control: must stay quiet)' : ''} | ${c.detected ? 'yes' : 'no'} | ${c.met}/${c.expected} | ${c.firstRule ?? ''} | ${c.eventSeconds === undefined ? '' : `${c.eventSeconds} s`} | ${c.wallMs === undefined ? '' : `${c.wallMs} ms`} |`);
  for (const [name, pts] of Object.entries(r.scaling)) {
    if (pts.length === 0) continue;
    const heap = name === 'threads' ? 'heap MiB (main thread)' : 'heap kept MiB';
    lines.push('', `Scaling, ${SCALE_TEXT[name] ?? name}:`, '', `| ${name} |${name === 'rules' ? ' counters |' : ''} records | records/s | ${heap} | RSS MiB |${name === 'keys' ? ' bytes/key |' : ''}`, `| ---: |${name === 'rules' ? ' ---: |' : ''} ---: | ---: | ---: | ---: |${name === 'keys' ? ' ---: |' : ''}`);
    for (const y of pts) if (y.skipped !== undefined) lines.push(`| ${n0(y.x)} | skipped: ${y.skipped} |`); else lines.push(`| ${n0(y.x)} |${name === 'rules' ? ` ${y.counters ?? ''} |` : ''} ${n0(y.records)} | ${n0(y.recordsPerSec)} | ${y.heapMiB} | ${y.rssMiB} |${name === 'keys' ? ` ${y.bytesPerKey ?? ''} |` : ''}`);
  }
  lines.push('', 'Goals:', '');
  for (const g of Object.values(r.goals)) lines.push(`- ${g.goal}: ${g.value === null ? 'not measured' : g.value} → **${g.holds === null ? 'n/a' : g.holds ? 'holds' : 'does not hold'}**`);
  lines.push('', 'JSON line:', '', '```json', JSON.stringify(r), '```', '');
  return lines.join('\n');
}
