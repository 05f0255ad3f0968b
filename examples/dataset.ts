/**
 * Generates the demo traffic in memory: normal traffic of every account on every day, the
 * labelled cases and the broken records, in event-time order, as JSON lines the way a
 * mediation system writes them. Used by generate.ts (to a file) and by the benches (in
 * memory), so both see the same records for the same seed.
 */
import { mulberry32 } from './prng.js';
import type { Event } from './traffic.js';
import { ZONE, makeAccounts, normalDay } from './traffic.js';
import type { Label } from './frauds.js';
import { injectBadRecords, injectFrauds } from './frauds.js';

export interface TrafficOptions {
  readonly days: number;
  readonly seed: number;
  readonly accounts: number;
  /** first local midnight, as `YYYY-MM-DD` in Europe/Berlin */
  readonly start: string;
}

export const DEFAULTS: TrafficOptions = { days: 3, seed: 42, accounts: 2000, start: '2026-11-20' };

export interface Traffic {
  readonly lines: string[];
  readonly labels: Label[];
  readonly from: number;
  readonly to: number;
}

/** At most this far (ms) a record is written after records that started later: mediation batches. */
const JITTER_MS = 90_000;

export function generateTraffic (options: Partial<TrafficOptions> = {}): Traffic {
  const o: TrafficOptions = { ...DEFAULTS, ...options };
  const rnd = mulberry32(o.seed);
  const startWall = Date.parse(`${o.start}T00:00:00Z`);
  if (!Number.isFinite(startWall)) throw new RangeError(`start must be a date YYYY-MM-DD, got ${o.start}`);
  const accounts = makeAccounts(rnd, o.accounts);
  const events: Event[] = [];
  for (let day = 0; day < o.days; day++) {
    // Weekday of the local date, 0 = Monday.
    const weekday = (Math.floor(startWall / 86_400_000) + day + 3) % 7;
    for (const a of accounts) normalDay(rnd, a, startWall, day, weekday, events);
  }
  const labels = injectFrauds(rnd, accounts, startWall, o.days, events);
  injectBadRecords(rnd, startWall, o.days, events, labels);

  // Written roughly in start order: each record may trail by up to JITTER_MS.
  const keyed = events.map((e) => ({ e, at: e.ts + Math.floor(rnd() * JITTER_MS) }));
  keyed.sort((a, b) => a.at - b.at);
  const lines: string[] = new Array<string>(keyed.length);
  let from = Infinity;
  let to = -Infinity;
  for (let i = 0; i < keyed.length; i++) {
    const e = (keyed[i] as { e: Event }).e;
    if (e.ts < from) from = e.ts;
    if (e.ts > to) to = e.ts;
    // A case's label rides on each of its records: `line` is the first one written.
    if (e.label !== undefined && e.label.line === undefined) e.label.line = i + 1;
    lines[i] = typeof e.rec === 'string' ? e.rec : JSON.stringify(withIdAndTime(rnd(), i, e.ts, e.rec));
  }
  return { lines, labels, from, to };
}

/**
 * A record id from the writing MSC's sequence (4 % of records come without one: ingest
 * derives it), and `ts` as the switches write it: epoch ms from most, ISO with the local
 * offset from the hosted-PBX platform, UTC ISO from roaming files.
 */
function withIdAndTime (x: number, seq: number, ts: number, rec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (x >= 0.04) out.id = `ber-msc02-${String(seq + 1).padStart(8, '0')}`;
  if (!('ts' in rec)) out.ts = x < 0.7 ? ts : x < 0.9 ? ZONE.toIso(ts) : new Date(ts).toISOString();
  return Object.assign(out, rec);
}
