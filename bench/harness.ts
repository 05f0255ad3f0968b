/**
 * The bench harness: runs cases side by side, reports median and p95 per operation, and
 * prints one console.table for people and one JSON line for machines:
 *   {"bench","node","cpu","cores","results":[{"name","opsPerSec","medianNs","p95Ns","samples"}],"params"}
 *
 * Used by bench/*.bench.ts; run those through bench/index.ts (each in its own process).
 * Cases are interleaved sample by sample (A B C A B C …), so a slow phase of a shared
 * machine hits every case alike and ratios between cases stay meaningful even when the
 * absolute figures wobble. With `node --expose-gc` (index.ts passes it) the heap is
 * collected before each sample, so one case's garbage is not billed to the next.
 */
import { availableParallelism, cpus } from 'node:os';

export { mulberry32 } from '../examples/prng.js';

export interface BenchCase {
  readonly name: string;
  /** Builds fresh state for one sample; not timed. */
  readonly setup?: () => void;
  /** Does one sample's work and returns how many operations it did. Timed. */
  readonly run: () => number;
  /** A shorter untimed round for warm-up, when a whole sample is long; `run` otherwise. */
  readonly warm?: () => void;
}

export interface BenchOptions {
  /** untimed rounds first, for the JIT to settle */
  readonly warmup: number;
  readonly samples: number;
  /**
   * Stop taking rounds of samples once this many ms have passed since the first one, but
   * not before `minSamples` rounds: keeps a bench within its time on a slow or busy
   * machine. The reported `samples` says how many were taken.
   */
  readonly budgetMs?: number;
  readonly minSamples?: number;
}

export interface CaseResult {
  readonly name: string;
  readonly opsPerSec: number;
  readonly medianNs: number;
  readonly p95Ns: number;
  readonly samples: number;
}

/**
 * Results must flow somewhere V8 cannot prove unused, or it may delete the work. Cases add
 * to it; report() prints it, which keeps it alive.
 */
export const sink = { value: 0 };

const gc = (globalThis as { gc?: () => void }).gc;

/** Nearest-rank percentile of ascending values; NaN for none. */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] as number;
}

function sampleNsPerOp (c: BenchCase): number {
  c.setup?.();
  gc?.();
  const t0 = process.hrtime.bigint();
  const ops = c.run();
  const ns = Number(process.hrtime.bigint() - t0);
  if (!(ops > 0)) throw new Error(`bench case ${c.name} did no operations`);
  return ns / ops;
}

/** Runs every case `warmup` times, then up to `samples` timed times, interleaved. */
export function runCases (cases: readonly BenchCase[], options: BenchOptions): CaseResult[] {
  for (let i = 0; i < options.warmup; i++) {
    for (const c of cases) {
      c.setup?.();
      if (c.warm !== undefined) c.warm(); else c.run();
    }
  }
  const times = cases.map(() => [] as number[]);
  const started = performance.now();
  for (let s = 0; s < options.samples; s++) {
    if (s >= (options.minSamples ?? 1) && performance.now() - started > (options.budgetMs ?? Infinity)) break;
    cases.forEach((c, i) => (times[i] as number[]).push(sampleNsPerOp(c)));
  }
  return cases.map((c, i) => caseResult(c.name, times[i] as number[]));
}

/**
 * A case's figures from its samples' ns per operation: benches that time their own samples
 * (async cases, several processes) report them as runCases does, so their tables compare.
 */
export function caseResult (name: string, nsPerOp: readonly number[]): CaseResult {
  const sorted = [...nsPerOp].sort((a, b) => a - b);
  const medianNs = percentile(sorted, 0.5);
  return { name, opsPerSec: Math.round(1e9 / medianNs), medianNs: round(medianNs), p95Ns: round(percentile(sorted, 0.95)), samples: sorted.length };
}

/** Median of values in any order; NaN for none. */
export function median (values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

function round (ns: number): number {
  return Math.round(ns * 10) / 10;
}

export interface Machine { readonly node: string, readonly cpu: string, readonly cores: number }

export function machine (): Machine {
  return { node: process.version, cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: availableParallelism() };
}

/** Prints the table (with each case relative to `baseline`, when given) and the JSON line. */
export function report (bench: string, results: readonly CaseResult[], params: Record<string, unknown> = {}, baseline?: string): void {
  const base = results.find((r) => r.name === baseline);
  const m = machine();
  console.log(`\n${bench}: ${m.cpu}, ${m.cores} cores, node ${m.node}`);
  console.table(results.map((r) => ({
    name: r.name,
    'ops/s': r.opsPerSec.toLocaleString('en-US'),
    'median ns/op': r.medianNs,
    'p95 ns/op': r.p95Ns,
    '± (p95 vs median)': `${((r.p95Ns / r.medianNs - 1) * 100).toFixed(1)} %`,
    ...(base === undefined ? {} : { [`vs ${base.name}`]: `${(r.opsPerSec / base.opsPerSec * 100).toFixed(1)} %` }),
    samples: r.samples,
  })));
  console.log(JSON.stringify({ bench, ...m, results, params: { ...params, sink: sink.value } }));
}

/** `--name value` from argv, as a positive integer, or the fallback. */
export function stringArg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1] ?? fallback;
}

export function intArg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${process.argv[i + 1]}`);
  return n;
}
