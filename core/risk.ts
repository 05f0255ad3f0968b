/**
 * A key's risk score (`measure: risk`): every alert of a rule with a `score` adds that score
 * to the score of its key, for the risk rules whose `by` is the same; the sum decays by half
 * every `risk.half_life` of event time:
 *
 *   score(t) = Σ score_i × 2^(−(t − t_i) / half_life)   over the alerts i with t_i ≤ t
 *
 * kept incrementally as (score, at): the sum as of event time `at`, the newest alert time
 * seen. An alert older than `at` (input out of order) is added decayed to `at`, so the sum is
 * the same in any arrival order up to float rounding; alerts show it rounded to 6 decimals.
 * A cell is plain data (numbers and arrays) so that the store persists it with the row.
 */

/** The contributions a cell keeps to show which alerts made its score. */
export const MAX_CONTRIBUTIONS = 32;
/** After this many half-lives a contribution weighs less than 2^-40 of its score: it is dropped. */
export const FORGET_HALF_LIVES = 40;

export interface RiskCell {
  /** the score as of event time `at` */
  score: number;
  at: number;
  /** alerts added */
  n: number;
  /** [alert id, rule, score, event time], oldest first, at most MAX_CONTRIBUTIONS */
  contributions: Array<[string, string, number, number]>;
  /** per rule slot, the limit before `shape`, fixed when the cell opened (see CalendarWindow) */
  limits: number[] | undefined;
  /** per rule: bit set while the score is above that severity's threshold (disarmed) */
  fired: number[];
}

export function openRisk (rules: number): RiskCell {
  return { score: 0, at: -Infinity, n: 0, contributions: [], limits: undefined, fired: new Array<number>(rules).fill(0) };
}

/** The score as of event time `ts` (or as of `at`, if that is later). */
export function decayedScore (cell: RiskCell, ts: number, halfLife: number): number {
  if (cell.at === -Infinity) return 0;
  return ts <= cell.at ? cell.score : cell.score * 2 ** (-(ts - cell.at) / halfLife);
}

export function addScore (cell: RiskCell, alert: string, rule: string, score: number, ts: number, halfLife: number): void {
  if (ts >= cell.at) {
    cell.score = decayedScore(cell, ts, halfLife) + score;
    cell.at = ts;
  } else {
    cell.score += score * 2 ** (-(cell.at - ts) / halfLife);
  }
  cell.n++;
  const list = cell.contributions;
  let i = list.length;
  while (i > 0 && list[i - 1]![3] > ts) i--;
  list.splice(i, 0, [alert, rule, score, ts]);
  const forget = cell.at - FORGET_HALF_LIVES * halfLife;
  let drop = 0;
  while (drop < list.length && (list.length - drop > MAX_CONTRIBUTIONS || list[drop]![3] < forget)) drop++;
  if (drop > 0) list.splice(0, drop);
}

/** The event time after which the score is negligible and the cell can go. */
export function riskExpiresAt (cell: RiskCell, halfLife: number): number {
  return cell.at + FORGET_HALF_LIVES * halfLife;
}
