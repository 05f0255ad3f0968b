/**
 * The obvious implementation: decode each line, then per counter a composed string key
 * `"<counter>:<account>"` in one Map<string, number> (as bench/core.bench.ts's `naive-map`
 * row). Used by `vigil bench`.
 */
import type { BaselineInput, BaselineResult } from './common.js';
import { accountOf, result, sink } from './common.js';

export function naiveMap (input: BaselineInput): BaselineResult {
  const counts = new Map<string, number>();
  const names = input.counters;
  const { lines } = input;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < lines.length; i++) {
    const account = accountOf(lines[i]!);
    if (account === undefined) continue;
    for (let c = 0; c < names.length; c++) {
      const key = `${names[c]!}:${account}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  sink.value += counts.size;
  return result('naive Map + string keys', lines.length, ns);
}
