/**
 * The ceiling: decode each line, find the account's integer id (interned once), bump one
 * Float64Array slot per counter. The least any engine must do to count this traffic with
 * that many counters (as bench/core.bench.ts's `ceiling` row). Used by `vigil bench`.
 */
import type { BaselineInput, BaselineResult } from './common.js';
import { accountOf, result, sink } from './common.js';

export function ceiling (input: BaselineInput): BaselineResult {
  const counters = input.counters.length;
  const ids = new Map<string, number>();
  let slots = new Float64Array(1024 * counters);
  const t0 = process.hrtime.bigint();
  const { lines } = input;
  for (let i = 0; i < lines.length; i++) {
    const account = accountOf(lines[i]!);
    if (account === undefined) continue;
    let id = ids.get(account);
    if (id === undefined) {
      id = ids.size;
      ids.set(account, id);
      if ((id + 1) * counters > slots.length) {
        const grown = new Float64Array(slots.length * 2);
        grown.set(slots);
        slots = grown;
      }
    }
    const base = id * counters;
    for (let c = 0; c < counters; c++) slots[base + c]! += 1;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  sink.value += slots[0]! + ids.size;
  return result('ceiling (typed-array slots)', lines.length, ns);
}
