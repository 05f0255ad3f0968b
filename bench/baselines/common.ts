/**
 * What every baseline of `vigil bench` shares: the same JSON lines, the same counters (one per
 * counter of the compiled rules, keyed by the record's account, bumped by 1 for every record:
 * no filters, no windows, no thresholds, i.e. less work than the rules do), run as fast as
 * each goes. A baseline answers with the records it did and the seconds it took.
 */
export interface BaselineInput {
  readonly lines: readonly string[];
  /** one name per counter of the compiled rules */
  readonly counters: readonly string[];
  /** stop after this many seconds (slow stores do part of the lines) */
  readonly budgetSeconds: number;
}

export interface BaselineResult {
  readonly name: string;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  /** why the baseline did not run, when it did not */
  readonly skipped?: string;
  readonly note?: string;
}

export const sink = { value: 0 };

/** The account of a JSON line, or undefined when the line is not JSON or has none. */
export function accountOf (line: string): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const account = (raw as { account?: unknown } | null)?.account;
  return typeof account === 'string' ? account : undefined;
}

export function result (name: string, records: number, ns: number, note?: string): BaselineResult {
  const seconds = ns / 1e9;
  return { name, records, seconds: Math.round(seconds * 1000) / 1000, recordsPerSec: Math.round(records / seconds), ...(note === undefined ? {} : { note }) };
}
