/**
 * load: `vigil bench` as a bench file, so `npm run bench` (bench/index.ts) runs it: the load
 * harness (bench/cli.ts) with the `quick` preset unless arguments say otherwise: fixed-rate
 * latency and detection quality, throughput beside the ceiling, naive-Map and
 * rate-limiter-flexible (memory and Redis) baselines, and the scaling runs.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/index.js load
 *      (or directly: node dist/bench/load.bench.js [--preset tiny|quick|full] [--rate N]
 *       [--chart FILE.svg] [--results FILE] [--no-redis] [--no-scaling] [--quiet])
 * Needs: the build; redis-server on 127.0.0.1:6379 for the Redis baseline (skipped with a
 * message when unreachable); temporary disk for the shard-thread runs. About 2-3 minutes on
 * 2 cores with `quick`.
 * index.js hands every bench the arguments after its `--` (`--samples 9` for the sampling
 * benches): options this harness does not know are left out with a note, not an error.
 */
import { benchCommand } from './cli.js';

const WITH_VALUE = new Set(['--preset', '--rate', '--chart', '--results']);
const FLAGS = new Set(['--no-redis', '--no-scaling', '--quiet']);

const args: string[] = [];
const ignored: string[] = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (WITH_VALUE.has(a) && i + 1 < argv.length) args.push(a, argv[++i]!);
  else if (FLAGS.has(a)) args.push(a);
  else ignored.push(a);
}
if (ignored.length > 0) process.stderr.write(`load.bench: ignoring ${ignored.join(' ')} (not an option of vigil bench)\n`);
process.exitCode = await benchCommand(args.includes('--preset') ? args : ['--preset', 'quick', ...args]);
