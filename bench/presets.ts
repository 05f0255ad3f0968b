/**
 * Presets of `vigil bench`: how much traffic, at which fixed rate, which baselines and which
 * scaling points. Sized for a 2-core machine: `quick` runs in about 2-3 minutes, `full` in
 * about 5-8, `tiny` in seconds (the test uses it).
 */
export interface Preset {
  readonly name: string;
  /** traffic: examples/dataset.ts options */
  readonly days: number;
  readonly accounts: number;
  readonly seed: number;
  /** at most this many records of it (0: all) */
  readonly records: number;
  /** fixed arrival rate, records/s, of the latency and quality run */
  readonly rate: number;
  /** records of the throughput rounds (0: all), and how many rounds */
  readonly throughputRecords: number;
  readonly rounds: number;
  /** the embedded engine (shard threads, LMDB) at a fixed rate over the head of the traffic; 0 threads: skipped */
  readonly streamThreads: number;
  readonly streamRate: number;
  readonly streamRecords: number;
  /** seconds each slow baseline (rate-limiter-flexible) may take per round */
  readonly baselineSeconds: number;
  readonly redis: boolean;
  /** scaling points; empty lists skip that run */
  readonly rules: readonly number[];
  readonly rulesRecords: number;
  readonly keys: readonly number[];
  readonly threads: readonly number[];
  readonly threadsRecords: number;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  tiny: { name: 'tiny', days: 1, accounts: 200, seed: 42, records: 3000, rate: 5000, throughputRecords: 0, rounds: 1, streamThreads: 1, streamRate: 5000, streamRecords: 3000, baselineSeconds: 1, redis: false, rules: [], rulesRecords: 0, keys: [], threads: [], threadsRecords: 0 },
  quick: { name: 'quick', days: 3, accounts: 2000, seed: 42, records: 0, rate: 10_000, throughputRecords: 60_000, rounds: 3, streamThreads: 2, streamRate: 5000, streamRecords: 60_000, baselineSeconds: 4, redis: true, rules: [1, 10, 50, 200], rulesRecords: 30_000, keys: [10_000, 100_000, 1_000_000], threads: [0, 1, 2], threadsRecords: 60_000 },
  full: { name: 'full', days: 7, accounts: 4000, seed: 42, records: 0, rate: 15_000, throughputRecords: 200_000, rounds: 3, streamThreads: 2, streamRate: 5000, streamRecords: 150_000, baselineSeconds: 10, redis: true, rules: [1, 5, 10, 25, 50, 100, 200], rulesRecords: 60_000, keys: [10_000, 100_000, 1_000_000, 3_000_000, 10_000_000], threads: [0, 1, 2], threadsRecords: 174_000 },
};
