/**
 * The ceiling: decode each line, find the account's integer id (interned once), bump one
 * Float64Array slot per counter. The least any engine must do to count this traffic with
 * that many counters (as bench/core.bench.ts's `ceiling` row). Used by `vigil bench`.
 */
import type { BaselineInput, BaselineResult } from './common.js';
import { accountOf, result, sink } from './common.js';
import { SlotTable } from '../slot-table.js';

export function ceiling (input: BaselineInput): BaselineResult {
  const table = new SlotTable(input.counters.length);
  const t0 = process.hrtime.bigint();
  const { lines } = input;
  for (let i = 0; i < lines.length; i++) {
    const account = accountOf(lines[i]!);
    if (account !== undefined) table.bump(account);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  sink.value += table.checksum;
  return result('ceiling (typed-array slots)', lines.length, ns);
}
