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
 */
import { benchCommand } from './cli.js';

const args = process.argv.slice(2);
process.exitCode = await benchCommand(args.includes('--preset') ? args : ['--preset', 'quick', ...args]);
