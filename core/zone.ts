/**
 * Wall-clock arithmetic in one IANA time zone: the derived `hour`/`weekday`, calendar window
 * bounds and ISO timestamps with offsets. Intl is the source of truth for offsets; because
 * asking it costs microseconds, offsets are cached per 15-minute slice of UTC time (every
 * modern zone changes its offset on a quarter-hour boundary), so the hot path is one Map read.
 * Windows are identified by their UTC start, never by a local label, so the hour that repeats
 * when clocks fall back is two windows, and a DST day lasts 23 or 25 hours.
 */
import type { CalendarUnit } from './rules-config.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
const SLICE_MS = 15 * MINUTE_MS;
/** |wall| below 2^51 ms (year ~73,000): wall / DAY_MS never rounds across a whole day. */
const EXACT_MS = 2 ** 51;

export interface WindowBounds { readonly start: number, readonly end: number }

export interface LocalFields {
  /** 0–23 */
  readonly hour: number;
  /** 0–1439 */
  readonly minuteOfDay: number;
  /** 0 = Monday … 6 = Sunday */
  readonly weekday: number;
}

/** True when `name` is an IANA zone this runtime knows. */
export function isValidZone (name: string): boolean {
  try {
    // eslint-disable-next-line no-new
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function mod (a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

/** Days since 1970-01-01 -> [year, month 1-12, day]. Howard Hinnant's civil_from_days. */
export function civilFromDays (days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** [year, month 1-12, day] -> days since 1970-01-01. Howard Hinnant's days_from_civil. */
export function daysFromCivil (year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export class Zone {
  readonly name: string;
  private readonly format: Intl.DateTimeFormat | undefined;
  private readonly offsets = new Map<number, number>();
  // One remembered window per unit: consecutive records nearly always share it.
  private readonly lastWindow: Partial<Record<CalendarUnit, WindowBounds>> = {};
  /**
   * The run of adjacent slices around the last offset looked up that all have that offset,
   * [runStart, runEnd) in UTC: records arrive roughly in time order, so most fall in it and
   * skip the Map. It only ever joins slices whose offsets were looked up (no new assumption
   * beyond the slices'), and is empty until the first lookup.
   */
  private runStart = 0;
  private runEnd = 0;
  private runOffset = 0;
  /** The weekday of the local day (days since 1970-01-01) `weekdayOf`: it changes once a day. */
  private weekdayOf = Number.NaN;
  private weekday = 0;

  constructor (name: string) {
    this.name = name;
    this.format = name === 'UTC' || name === 'Etc/UTC'
      ? undefined
      : new Intl.DateTimeFormat('en-US', {
        timeZone: name,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
  }

  /** Milliseconds to add to a UTC instant to get the wall clock of this zone at that instant. */
  offsetAt (utc: number): number {
    if (this.format === undefined) return 0;
    if (utc >= this.runStart && utc < this.runEnd) return this.runOffset;
    const slice = Math.floor(utc / SLICE_MS);
    let offset = this.offsets.get(slice);
    if (offset === undefined) {
      offset = this.computeOffset(slice * SLICE_MS);
      // Bounded: a long replay touches at most a few thousand slices at once.
      if (this.offsets.size > 50_000) this.offsets.clear();
      this.offsets.set(slice, offset);
    }
    const start = slice * SLICE_MS;
    const end = start + SLICE_MS;
    if (offset === this.runOffset && start === this.runEnd) this.runEnd = end;
    else if (offset === this.runOffset && end === this.runStart) this.runStart = start;
    else { this.runStart = start; this.runEnd = end; this.runOffset = offset; }
    return offset;
  }

  private computeOffset (utc: number): number {
    const parts = (this.format as Intl.DateTimeFormat).formatToParts(new Date(utc));
    const n: Record<string, number> = {};
    for (const p of parts) if (p.type !== 'literal') n[p.type] = Number(p.value);
    const asUtc = Date.UTC(n.year ?? 1970, (n.month ?? 1) - 1, n.day ?? 1, n.hour ?? 0, n.minute ?? 0, n.second ?? 0);
    return asUtc - Math.floor(utc / 1000) * 1000;
  }

  local (utc: number): LocalFields {
    const wall = utc + this.offsetAt(utc);
    const day = Math.floor(wall / DAY_MS);
    // `%` of a double is a C call (fmod); for an integer well inside 2^53, subtracting whole
    // days is exact and gives the same remainder. Anything else keeps the general formula.
    const inDay = Number.isInteger(wall) && wall > -EXACT_MS && wall < EXACT_MS ? wall - day * DAY_MS : mod(wall, DAY_MS);
    const minuteOfDay = Math.floor(inDay / MINUTE_MS);
    if (day !== this.weekdayOf) {
      this.weekdayOf = day;
      this.weekday = mod(day + 3, 7);
    }
    return { hour: Math.floor(minuteOfDay / 60), minuteOfDay, weekday: this.weekday };
  }

  /**
   * The UTC instant of a wall-clock time (ms since the epoch as if the wall clock were UTC).
   * A time that occurs twice (clocks fall back) gives the earlier instant; a time that does
   * not exist (clocks spring forward) gives the instant just as far after the gap's start,
   * as Temporal's "compatible" disambiguation does.
   */
  utcOf (wall: number): number {
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    let best: number | undefined;
    for (const o of before === after ? [before] : [before, after]) {
      const t = wall - o;
      if (this.offsetAt(t) === o && (best === undefined || t < best)) best = t;
    }
    return best ?? wall - before;
  }

  /** The calendar window of `unit` that holds the instant `utc`. Weeks run Monday to Monday. */
  window (unit: CalendarUnit, utc: number): WindowBounds {
    const last = this.lastWindow[unit];
    if (last !== undefined && utc >= last.start && utc < last.end) return last;
    const w = this.computeWindow(unit, utc);
    this.lastWindow[unit] = w;
    return w;
  }

  private computeWindow (unit: CalendarUnit, utc: number): WindowBounds {
    const offset = this.offsetAt(utc);
    const wall = utc + offset;
    switch (unit) {
      case 'minute': {
        const start = utc - mod(wall, MINUTE_MS);
        return this.clipToOffset(start, start + MINUTE_MS, utc, offset);
      }
      case 'hour': {
        const start = utc - mod(wall, HOUR_MS);
        return this.clipToOffset(start, start + HOUR_MS, utc, offset);
      }
      case 'day': {
        const day = Math.floor(wall / DAY_MS);
        return { start: this.utcOf(day * DAY_MS), end: this.utcOf((day + 1) * DAY_MS) };
      }
      case 'week': {
        const day = Math.floor(wall / DAY_MS);
        const monday = day - mod(day + 3, 7);
        return { start: this.utcOf(monday * DAY_MS), end: this.utcOf((monday + 7) * DAY_MS) };
      }
      case 'month': {
        const [y, m] = civilFromDays(Math.floor(wall / DAY_MS));
        const first = daysFromCivil(y, m, 1);
        const next = m === 12 ? daysFromCivil(y + 1, 1, 1) : daysFromCivil(y, m + 1, 1);
        return { start: this.utcOf(first * DAY_MS), end: this.utcOf(next * DAY_MS) };
      }
    }
  }

  /**
   * Cuts a wall-clock minute or hour at the offset changes around `utc`. Where clocks move by
   * part of an hour (Lord Howe's 30-minute DST), the wall-clock hour computed from the new
   * offset would reach back over instants that already belong to the previous window; cut at
   * the change, the windows still partition time (the half hour that repeats is its own window).
   * Offsets change on slice boundaries, so walking whole slices finds the change.
   */
  private clipToOffset (start: number, end: number, utc: number, offset: number): WindowBounds {
    const slice = Math.floor(utc / SLICE_MS) * SLICE_MS;
    let from = slice;
    while (from > start && this.offsetAt(from - 1) === offset) from -= SLICE_MS;
    let to = slice + SLICE_MS;
    while (to < end && this.offsetAt(to) === offset) to += SLICE_MS;
    return { start: Math.max(from, start), end: Math.min(to, end) };
  }

  /** ISO 8601 with this zone's offset: `2026-11-21T14:02:11+01:00`, with `.mmm` when not a whole second. */
  toIso (utc: number): string {
    const offset = this.offsetAt(utc);
    const d = new Date(utc + offset);
    const pad = (v: number, w = 2): string => String(v).padStart(w, '0');
    const ms = d.getUTCMilliseconds();
    const frac = ms === 0 ? '' : `.${pad(ms, 3)}`;
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset) / MINUTE_MS;
    const tz = offset === 0 && this.format === undefined ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}${tz}`;
  }
}
