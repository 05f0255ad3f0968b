/** How the latency benches (cluster.bench, replay.bench) sum up a run's latencies, in ms. */
import { percentile } from './harness.js';

export interface Latencies { readonly n: number, readonly p50: number, readonly p99: number, readonly p999: number, readonly max: number }

/** Count, p50, p99, p99.9 and max, to 0.01 ms; NaN entries are records that were never timed and are left out. */
export function summarize (values: ArrayLike<number>): Latencies {
  const sorted = Float64Array.from(values).filter((v) => !Number.isNaN(v)).sort();
  const r = (v: number): number => Math.round(v * 100) / 100;
  return { n: sorted.length, p50: r(percentile(sorted, 0.5)), p99: r(percentile(sorted, 0.99)), p999: r(percentile(sorted, 0.999)), max: r(sorted[sorted.length - 1] ?? NaN) };
}
