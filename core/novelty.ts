/**
 * `measure: new(F)`: a record counts 1 when its value of F is new to the key, 0 otherwise.
 * "New" means the key has not used the value within the rule's `history` before the record's
 * event time: the newest use seen so far is absent or at least `history` older. A record that
 * arrives out of order is compared with the newest use seen so far, so a replay of the same
 * input gives the same answer (the engine applies a key's records in input order).
 *
 * The seen-set maps value -> newest event time of its use, in order of last update (a Map
 * keeps insertion order), so the entry to expire next is at the front. It stays bounded twice:
 * entries leave once no record that can still be accepted could find them within `history`,
 * and beyond MAX_SEEN values the least recently used is forgotten (and counts as new again).
 * It is a plain Map of strings to numbers: the store persists it with the row.
 */

export type SeenSet = Map<string, number>;

/** Values remembered per key and counter; a scanner dialling a million numbers costs no more. */
export const MAX_SEEN = 10_000;

/** Records the use of `value` at `ts` and returns 1 when it is new to the key, else 0. */
export function novel (holder: { seen?: SeenSet }, value: string, ts: number, history: number): number {
  let seen = holder.seen;
  if (seen === undefined) { seen = new Map(); holder.seen = seen; }
  const last = seen.get(value);
  if (last === undefined) {
    seen.set(value, ts);
    if (seen.size > MAX_SEEN) seen.delete(seen.keys().next().value as string);
    return 1;
  }
  if (ts > last) {
    // Delete first so that the entry moves to the back: the front stays the oldest update.
    seen.delete(value);
    seen.set(value, ts);
  }
  return ts - last >= history ? 1 : 0;
}

/**
 * Forgets values no accepted record can still meet within `history`: every such record has
 * ts > `acceptFrom`, and a use at `last` only matters to records before last + history.
 * Stops at the first entry still needed (exact for in-order input; an out-of-order entry
 * behind it leaves at a later sweep). True when it removed any.
 */
export function sweepSeen (seen: SeenSet, history: number, acceptFrom: number): boolean {
  let removed = false;
  for (const [value, last] of seen) {
    if (last + history > acceptFrom) break;
    seen.delete(value);
    removed = true;
  }
  return removed;
}

/** The event time after which the front entry no longer matters; add lateness and horizon for the watermark. */
export function seenExpiresAt (seen: SeenSet, history: number): number {
  const front = seen.values().next();
  return front.done === true ? -Infinity : front.value + history;
}
