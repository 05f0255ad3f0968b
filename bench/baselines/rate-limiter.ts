/**
 * rate-limiter-flexible as a counter store: per record, one `consume(key, 1)` per counter,
 * key `"<counter>:<account>"`, with points high enough that nothing is ever refused (so the
 * store only counts). Two stores:
 *   - memory (RateLimiterMemory): in-process;
 *   - Redis (RateLimiterRedis over ioredis): needs a redis-server, by default 127.0.0.1:6379
 *     (VIGIL_BENCH_REDIS=redis://host:port to change). When it is not reachable the baseline
 *     is skipped with the reason, not failed.
 * Records are kept in flight `window` at a time (their consumes concurrently, as a server
 * handling many requests would), so ioredis pipelines the commands. Keys carry a per-run
 * prefix and expire after 10 minutes. Used by `vigil bench`.
 */
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { Redis } from 'ioredis';
import type { BaselineInput, BaselineResult } from './common.js';
import { accountOf, result, sink } from './common.js';

const POINTS = 1e15;
const DURATION_S = 600;
/** records in flight at once */
const WINDOW = 64;

async function drive (name: string, limiter: RateLimiterAbstract, input: BaselineInput, note?: string): Promise<BaselineResult> {
  const names = input.counters;
  const { lines } = input;
  const deadline = performance.now() + input.budgetSeconds * 1000;
  const t0 = process.hrtime.bigint();
  let done = 0;
  let inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < lines.length; i++) {
    const account = accountOf(lines[i]!);
    done++;
    if (account !== undefined) {
      for (let c = 0; c < names.length; c++) inFlight.push(limiter.consume(`${names[c]!}:${account}`, 1));
    }
    if (inFlight.length >= WINDOW * names.length) {
      const res = await Promise.all(inFlight);
      sink.value += res.length;
      inFlight = [];
      if (performance.now() > deadline) break;
    }
  }
  await Promise.all(inFlight);
  const ns = Number(process.hrtime.bigint() - t0);
  return result(name, done, ns, done < lines.length ? `${note === undefined ? '' : note + '; '}${done} of ${lines.length} records within the ${input.budgetSeconds} s budget` : note);
}

export async function rateLimiterMemory (input: BaselineInput): Promise<BaselineResult> {
  const limiter = new RateLimiterMemory({ points: POINTS, duration: DURATION_S });
  return await drive('rate-limiter-flexible memory', limiter, input);
}

export async function rateLimiterRedis (input: BaselineInput, url = process.env.VIGIL_BENCH_REDIS ?? 'redis://127.0.0.1:6379'): Promise<BaselineResult> {
  const name = 'rate-limiter-flexible Redis';
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      return { name, records: 0, seconds: 0, recordsPerSec: 0, skipped: `redis at ${url} not reachable (${err instanceof Error ? err.message : String(err)})` };
    }
    const limiter = new RateLimiterRedis({ storeClient: redis, points: POINTS, duration: DURATION_S, keyPrefix: `vigil-bench-${process.pid}-${Date.now()}` });
    return await drive(name, limiter, input, `${url}, ${WINDOW} records in flight`);
  } finally {
    redis.disconnect();
  }
}
