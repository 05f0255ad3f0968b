/**
 * core/zone.ts against hand-derived wall-clock facts: every expected instant below was worked
 * out from the IANA rules of its zone (the transition dates are in the row), not copied from the
 * code's output. Window rows are checked at all four edges: the start and the last millisecond
 * belong to the window, the millisecond before the start and the end belong to its neighbours.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CalendarUnit } from '../../core/rules-config.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, Zone, civilFromDays, daysFromCivil } from '../../core/zone.js';
import { mulberry32 } from '../helpers/prng.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (t: number): string => new Date(t).toISOString().replace('.000Z', 'Z');

interface WindowRow { readonly why: string, readonly zone: string, readonly unit: CalendarUnit, readonly at: string, readonly start: string, readonly end: string, readonly hours?: number }

/** A fresh Zone per assertion, so no remembered window or cached offset can hide a mistake. */
function windowOf (zone: string, unit: CalendarUnit, t: number): { start: string, end: string } {
  const w = new Zone(zone).window(unit, t);
  return { start: iso(w.start), end: iso(w.end) };
}

function checkWindows (rows: readonly WindowRow[]): void {
  for (const row of rows) {
    const start = at(row.start);
    const end = at(row.end);
    const want = { start: row.start, end: row.end };
    assert.equal(windowOf(row.zone, row.unit, at(row.at)), want, `${row.why}: the window of ${row.at}`);
    assert.equal(windowOf(row.zone, row.unit, start), want, `${row.why}: its start belongs to it`);
    assert.equal(windowOf(row.zone, row.unit, end - 1), want, `${row.why}: its last millisecond belongs to it`);
    assert.is(windowOf(row.zone, row.unit, start - 1).end, row.start, `${row.why}: one ms before the start is the previous window`);
    assert.is(windowOf(row.zone, row.unit, end).start, row.end, `${row.why}: the end starts the next window`);
    if (row.hours !== undefined) assert.is((end - start) / HOUR_MS, row.hours, `${row.why}: length in hours`);
  }
}

const days = suite('core/zone: day windows');

days('a day lasts 23 hours when clocks spring forward and 25 when they fall back', () => {
  checkWindows([
    { why: 'Berlin, an ordinary winter day', zone: 'Europe/Berlin', unit: 'day', at: '2024-01-15T12:00:00Z', start: '2024-01-14T23:00:00Z', end: '2024-01-15T23:00:00Z', hours: 24 },
    // EU: last Sunday of March 01:00 UTC, 02:00 CET -> 03:00 CEST.
    { why: 'Berlin spring forward 2024-03-31', zone: 'Europe/Berlin', unit: 'day', at: '2024-03-31T10:00:00Z', start: '2024-03-30T23:00:00Z', end: '2024-03-31T22:00:00Z', hours: 23 },
    // EU: last Sunday of October 01:00 UTC, 03:00 CEST -> 02:00 CET.
    { why: 'Berlin fall back 2024-10-27', zone: 'Europe/Berlin', unit: 'day', at: '2024-10-27T10:00:00Z', start: '2024-10-26T22:00:00Z', end: '2024-10-27T23:00:00Z', hours: 25 },
    // US: second Sunday of March and first Sunday of November, 02:00 local.
    { why: 'New York spring forward 2024-03-10', zone: 'America/New_York', unit: 'day', at: '2024-03-10T12:00:00Z', start: '2024-03-10T05:00:00Z', end: '2024-03-11T04:00:00Z', hours: 23 },
    { why: 'New York fall back 2024-11-03', zone: 'America/New_York', unit: 'day', at: '2024-11-03T12:00:00Z', start: '2024-11-03T04:00:00Z', end: '2024-11-04T05:00:00Z', hours: 25 },
    { why: 'UTC', zone: 'UTC', unit: 'day', at: '2024-03-31T10:00:00Z', start: '2024-03-31T00:00:00Z', end: '2024-04-01T00:00:00Z', hours: 24 },
    { why: 'Kolkata, +05:30 all year', zone: 'Asia/Kolkata', unit: 'day', at: '2024-06-01T20:00:00Z', start: '2024-06-01T18:30:00Z', end: '2024-06-02T18:30:00Z', hours: 24 },
  ]);
});

days('Lord Howe days last 23.5 and 24.5 hours around its 30-minute DST', () => {
  checkWindows([
    // First Sunday of April 02:00 LHDT (+11) -> 01:30 LHST (+10:30).
    { why: 'Lord Howe fall back 2024-04-07', zone: 'Australia/Lord_Howe', unit: 'day', at: '2024-04-07T01:00:00Z', start: '2024-04-06T13:00:00Z', end: '2024-04-07T13:30:00Z', hours: 24.5 },
    // First Sunday of October 02:00 LHST (+10:30) -> 02:30 LHDT (+11).
    { why: 'Lord Howe spring forward 2024-10-06', zone: 'Australia/Lord_Howe', unit: 'day', at: '2024-10-06T01:00:00Z', start: '2024-10-05T13:30:00Z', end: '2024-10-06T13:00:00Z', hours: 23.5 },
    { why: 'Lord Howe, an ordinary winter day', zone: 'Australia/Lord_Howe', unit: 'day', at: '2024-07-01T01:00:00Z', start: '2024-06-30T13:30:00Z', end: '2024-07-01T13:30:00Z', hours: 24 },
  ]);
});

days('where midnight does not exist the day starts when the clocks resume', () => {
  checkWindows([
    // Chile: DST starts the first Saturday of September at 24:00 (-04 -> -03): Sunday has no 00:00-01:00.
    { why: 'Santiago spring forward 2024-09-08', zone: 'America/Santiago', unit: 'day', at: '2024-09-08T12:00:00Z', start: '2024-09-08T04:00:00Z', end: '2024-09-09T03:00:00Z', hours: 23 },
    { why: 'Santiago, the Saturday before', zone: 'America/Santiago', unit: 'day', at: '2024-09-07T12:00:00Z', start: '2024-09-07T04:00:00Z', end: '2024-09-08T04:00:00Z', hours: 24 },
    // Chile: DST ends the first Saturday of April at 24:00 (-03 -> -04): Saturday's last hour repeats.
    { why: 'Santiago fall back, Saturday 2024-04-06', zone: 'America/Santiago', unit: 'day', at: '2024-04-07T03:30:00Z', start: '2024-04-06T03:00:00Z', end: '2024-04-07T04:00:00Z', hours: 25 },
    // Cuba: DST starts the second Sunday of March at 00:00 (-05 -> -04) and ends the first Sunday of November at 01:00.
    { why: 'Havana spring forward 2024-03-10', zone: 'America/Havana', unit: 'day', at: '2024-03-10T12:00:00Z', start: '2024-03-10T05:00:00Z', end: '2024-03-11T04:00:00Z', hours: 23 },
    { why: 'Havana fall back 2024-11-03: midnight happens twice, the day starts at the first', zone: 'America/Havana', unit: 'day', at: '2024-11-03T12:00:00Z', start: '2024-11-03T04:00:00Z', end: '2024-11-04T05:00:00Z', hours: 25 },
  ]);
  assert.is(new Zone('America/Santiago').toIso(at('2024-09-08T04:00:00Z')), '2024-09-08T01:00:00-03:00');
});

const hours = suite('core/zone: hour and minute windows');

hours('the hour that repeats when clocks fall back is two windows', () => {
  checkWindows([
    { why: 'Berlin 02:00-03:00 CEST', zone: 'Europe/Berlin', unit: 'hour', at: '2024-10-27T00:30:00Z', start: '2024-10-27T00:00:00Z', end: '2024-10-27T01:00:00Z' },
    { why: 'Berlin 02:00-03:00 CET', zone: 'Europe/Berlin', unit: 'hour', at: '2024-10-27T01:30:00Z', start: '2024-10-27T01:00:00Z', end: '2024-10-27T02:00:00Z' },
    { why: 'New York 01:00-02:00 EDT', zone: 'America/New_York', unit: 'hour', at: '2024-11-03T05:30:00Z', start: '2024-11-03T05:00:00Z', end: '2024-11-03T06:00:00Z' },
    { why: 'New York 01:00-02:00 EST', zone: 'America/New_York', unit: 'hour', at: '2024-11-03T06:30:00Z', start: '2024-11-03T06:00:00Z', end: '2024-11-03T07:00:00Z' },
  ]);
  const berlin = new Zone('Europe/Berlin');
  assert.is(berlin.local(at('2024-10-27T00:30:00Z')).hour, 2);
  assert.is(berlin.local(at('2024-10-27T01:30:00Z')).hour, 2);
});

hours('the hour skipped when clocks spring forward leaves no window', () => {
  checkWindows([
    { why: 'Berlin 01:00-02:00 CET', zone: 'Europe/Berlin', unit: 'hour', at: '2024-03-31T00:30:00Z', start: '2024-03-31T00:00:00Z', end: '2024-03-31T01:00:00Z' },
    { why: 'Berlin 03:00-04:00 CEST follows directly', zone: 'Europe/Berlin', unit: 'hour', at: '2024-03-31T01:30:00Z', start: '2024-03-31T01:00:00Z', end: '2024-03-31T02:00:00Z' },
  ]);
});

hours('Kolkata hours begin at half past the UTC hour', () => {
  checkWindows([
    { why: 'Kolkata 16:00-17:00 IST', zone: 'Asia/Kolkata', unit: 'hour', at: '2024-06-01T10:45:00Z', start: '2024-06-01T10:30:00Z', end: '2024-06-01T11:30:00Z' },
    { why: 'Kolkata 05:00-06:00 IST, across the UTC midnight', zone: 'Asia/Kolkata', unit: 'hour', at: '2024-06-01T00:00:00Z', start: '2024-05-31T23:30:00Z', end: '2024-06-01T00:30:00Z' },
  ]);
});

hours('Lord Howe hours are cut where its clocks move by 30 minutes, so windows never overlap', () => {
  checkWindows([
    // Fall back at 15:00 UTC: 01:00-02:00 LHDT, then the repeated half hour 01:30-02:00 LHST alone.
    { why: 'Lord Howe 01:00-02:00 LHDT', zone: 'Australia/Lord_Howe', unit: 'hour', at: '2024-04-06T14:40:00Z', start: '2024-04-06T14:00:00Z', end: '2024-04-06T15:00:00Z' },
    { why: 'Lord Howe 01:30-02:00 LHST', zone: 'Australia/Lord_Howe', unit: 'hour', at: '2024-04-06T15:10:00Z', start: '2024-04-06T15:00:00Z', end: '2024-04-06T15:30:00Z' },
    { why: 'Lord Howe 02:00-03:00 LHST', zone: 'Australia/Lord_Howe', unit: 'hour', at: '2024-04-06T15:40:00Z', start: '2024-04-06T15:30:00Z', end: '2024-04-06T16:30:00Z' },
    // Spring forward at 15:30 UTC: 01:00-02:00 LHST, then 02:30-03:00 LHDT.
    { why: 'Lord Howe 01:00-02:00 LHST', zone: 'Australia/Lord_Howe', unit: 'hour', at: '2024-10-05T15:20:00Z', start: '2024-10-05T14:30:00Z', end: '2024-10-05T15:30:00Z' },
    { why: 'Lord Howe 02:30-03:00 LHDT', zone: 'Australia/Lord_Howe', unit: 'hour', at: '2024-10-05T15:40:00Z', start: '2024-10-05T15:30:00Z', end: '2024-10-05T16:00:00Z' },
  ]);
});

hours('a remembered window never answers for an instant outside it', () => {
  // The window cache once made the answer depend on the order of the calls.
  const zone = new Zone('Australia/Lord_Howe');
  zone.window('hour', at('2024-04-06T15:10:00Z'));
  assert.equal(zone.window('hour', at('2024-04-06T14:40:00Z')), { start: at('2024-04-06T14:00:00Z'), end: at('2024-04-06T15:00:00Z') });
});

hours('minute windows are whole UTC minutes in every zone, across a DST change', () => {
  checkWindows([
    { why: 'Berlin, the last CET minute', zone: 'Europe/Berlin', unit: 'minute', at: '2024-03-31T00:59:30Z', start: '2024-03-31T00:59:00Z', end: '2024-03-31T01:00:00Z' },
    { why: 'Berlin, the first CEST minute', zone: 'Europe/Berlin', unit: 'minute', at: '2024-03-31T01:00:00.500Z', start: '2024-03-31T01:00:00Z', end: '2024-03-31T01:01:00Z' },
    { why: 'Kolkata', zone: 'Asia/Kolkata', unit: 'minute', at: '2024-06-01T10:45:59.999Z', start: '2024-06-01T10:45:00Z', end: '2024-06-01T10:46:00Z' },
    { why: 'Chatham, +12:45', zone: 'Pacific/Chatham', unit: 'minute', at: '2024-06-01T10:45:01Z', start: '2024-06-01T10:45:00Z', end: '2024-06-01T10:46:00Z' },
    { why: 'Lord Howe, the repeated half hour', zone: 'Australia/Lord_Howe', unit: 'minute', at: '2024-04-06T15:00:00Z', start: '2024-04-06T15:00:00Z', end: '2024-04-06T15:01:00Z' },
  ]);
});

const weeks = suite('core/zone: week windows');

weeks('weeks run from Monday 00:00 local to the next Monday 00:00', () => {
  checkWindows([
    { why: 'Berlin, an ordinary week', zone: 'Europe/Berlin', unit: 'week', at: '2024-01-17T12:00:00Z', start: '2024-01-14T23:00:00Z', end: '2024-01-21T23:00:00Z', hours: 168 },
    { why: 'Berlin, the week with spring forward', zone: 'Europe/Berlin', unit: 'week', at: '2024-03-27T12:00:00Z', start: '2024-03-24T23:00:00Z', end: '2024-03-31T22:00:00Z', hours: 167 },
    { why: 'Berlin, the week with fall back', zone: 'Europe/Berlin', unit: 'week', at: '2024-10-27T12:00:00Z', start: '2024-10-20T22:00:00Z', end: '2024-10-27T23:00:00Z', hours: 169 },
    { why: 'Berlin, across the year end (Wed 2025-01-01)', zone: 'Europe/Berlin', unit: 'week', at: '2025-01-01T00:00:00Z', start: '2024-12-29T23:00:00Z', end: '2025-01-05T23:00:00Z', hours: 168 },
    { why: 'New York, across the year end (Thu 2026-01-01)', zone: 'America/New_York', unit: 'week', at: '2026-01-01T12:00:00Z', start: '2025-12-29T05:00:00Z', end: '2026-01-05T05:00:00Z', hours: 168 },
    { why: 'UTC, the week of the epoch (Thu 1970-01-01)', zone: 'UTC', unit: 'week', at: '1970-01-01T00:00:00Z', start: '1969-12-29T00:00:00Z', end: '1970-01-05T00:00:00Z', hours: 168 },
    { why: 'Kolkata, Sunday evening UTC is already Monday', zone: 'Asia/Kolkata', unit: 'week', at: '2024-06-02T19:00:00Z', start: '2024-06-02T18:30:00Z', end: '2024-06-09T18:30:00Z', hours: 168 },
  ]);
});

const months = suite('core/zone: month windows');

months('months run from the 1st 00:00 local, with leap years, year ends and DST inside', () => {
  checkWindows([
    { why: 'Berlin, February of a leap year', zone: 'Europe/Berlin', unit: 'month', at: '2024-02-29T22:59:59Z', start: '2024-01-31T23:00:00Z', end: '2024-02-29T23:00:00Z', hours: 29 * 24 },
    { why: 'Berlin, February of a common year', zone: 'Europe/Berlin', unit: 'month', at: '2023-02-15T00:00:00Z', start: '2023-01-31T23:00:00Z', end: '2023-02-28T23:00:00Z', hours: 28 * 24 },
    { why: 'Berlin, December', zone: 'Europe/Berlin', unit: 'month', at: '2024-12-31T22:59:59.999Z', start: '2024-11-30T23:00:00Z', end: '2024-12-31T23:00:00Z', hours: 31 * 24 },
    { why: 'Berlin, January after December', zone: 'Europe/Berlin', unit: 'month', at: '2024-12-31T23:00:00Z', start: '2024-12-31T23:00:00Z', end: '2025-01-31T23:00:00Z', hours: 31 * 24 },
    { why: 'Berlin, March with spring forward', zone: 'Europe/Berlin', unit: 'month', at: '2024-03-15T00:00:00Z', start: '2024-02-29T23:00:00Z', end: '2024-03-31T22:00:00Z', hours: 31 * 24 - 1 },
    { why: 'Berlin, October with fall back', zone: 'Europe/Berlin', unit: 'month', at: '2024-10-15T00:00:00Z', start: '2024-09-30T22:00:00Z', end: '2024-10-31T23:00:00Z', hours: 31 * 24 + 1 },
    { why: 'New York, November with fall back', zone: 'America/New_York', unit: 'month', at: '2024-11-15T00:00:00Z', start: '2024-11-01T04:00:00Z', end: '2024-12-01T05:00:00Z', hours: 30 * 24 + 1 },
    { why: 'Santiago, September starting in winter time', zone: 'America/Santiago', unit: 'month', at: '2024-09-15T00:00:00Z', start: '2024-09-01T04:00:00Z', end: '2024-10-01T03:00:00Z', hours: 30 * 24 - 1 },
    { why: 'UTC, December into the next year', zone: 'UTC', unit: 'month', at: '2024-12-31T23:59:59.999Z', start: '2024-12-01T00:00:00Z', end: '2025-01-01T00:00:00Z', hours: 31 * 24 },
  ]);
});

const partition = suite('core/zone: windows partition time');

/** The instants in [from, to) where the zone's offset changes: a daily scan, then bisection. */
function offsetChanges (zone: Zone, from: number, to: number): number[] {
  const changes: number[] = [];
  for (let day = from; day < to; day += DAY_MS) {
    if (zone.offsetAt(day) === zone.offsetAt(day + DAY_MS)) continue;
    let lo = day;
    let hi = day + DAY_MS;
    while (hi - lo > MINUTE_MS) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
      if (zone.offsetAt(mid) === zone.offsetAt(lo)) lo = mid; else hi = mid;
    }
    changes.push(hi);
  }
  return changes;
}

partition('every instant lies in exactly one window, whatever order instants are asked in', () => {
  // Two years around DST changes of various shapes; one zone asked in time order, one in
  // random order (exercising the remembered window), one for the neighbours.
  const zones = ['Europe/Berlin', 'Australia/Lord_Howe', 'America/Santiago', 'America/Havana', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham'];
  const units: readonly CalendarUnit[] = ['minute', 'hour', 'day', 'week', 'month'];
  const rnd = mulberry32(7);
  const from = at('2024-01-01T00:00:00Z');
  const span = 2 * 365 * DAY_MS;
  for (const name of zones) {
    const ordered = new Zone(name);
    const shuffled = new Zone(name);
    const neighbours = new Zone(name);
    const instants = Array.from({ length: 3000 }, () => from + Math.floor(rnd() * span));
    // Random instants rarely land near a change, where windows go wrong: add a dense ladder there.
    for (const change of offsetChanges(ordered, from, from + span)) {
      for (let k = -8; k <= 8; k++) instants.push(change + k * 7.5 * MINUTE_MS, change + k * 7.5 * MINUTE_MS - 1);
    }
    instants.sort((a, b) => a - b);
    for (const unit of units) {
      const windows = instants.map((t) => ordered.window(unit, t));
      for (let k = 0; k < instants.length; k++) {
        const i = Math.floor(rnd() * instants.length);
        const t = instants[i]!;
        const w = windows[i]!;
        const where = `${name} ${unit} ${iso(t)}`;
        assert.ok(w.start <= t && t < w.end, `${where} lies in its window`);
        assert.equal(shuffled.window(unit, t), w, `${where}: same window in any order`);
        assert.is(neighbours.window(unit, w.start - 1).end, w.start, `${where}: the previous window ends at its start`);
        assert.is(neighbours.window(unit, w.end).start, w.end, `${where}: the next window starts at its end`);
      }
    }
  }
});

const utcOf = suite('core/zone: utcOf');

utcOf('a wall time maps to its instant; a repeated one to the earlier, a skipped one past the gap', () => {
  const rows: ReadonlyArray<{ why: string, zone: string, wall: string, utc: string }> = [
    { why: 'Berlin, ordinary', zone: 'Europe/Berlin', wall: '2024-07-01T12:00:00Z', utc: '2024-07-01T10:00:00Z' },
    { why: 'Berlin, repeated 02:30 gives CEST', zone: 'Europe/Berlin', wall: '2024-10-27T02:30:00Z', utc: '2024-10-27T00:30:00Z' },
    { why: 'Berlin, skipped 02:30 gives 03:30 CEST', zone: 'Europe/Berlin', wall: '2024-03-31T02:30:00Z', utc: '2024-03-31T01:30:00Z' },
    { why: 'Berlin, 03:00 just after the gap', zone: 'Europe/Berlin', wall: '2024-03-31T03:00:00Z', utc: '2024-03-31T01:00:00Z' },
    { why: 'Berlin, 03:00 just after the repeated hour', zone: 'Europe/Berlin', wall: '2024-10-27T03:00:00Z', utc: '2024-10-27T02:00:00Z' },
    { why: 'New York, repeated 01:30 gives EDT', zone: 'America/New_York', wall: '2024-11-03T01:30:00Z', utc: '2024-11-03T05:30:00Z' },
    { why: 'New York, skipped 02:30 gives 03:30 EDT', zone: 'America/New_York', wall: '2024-03-10T02:30:00Z', utc: '2024-03-10T07:30:00Z' },
    { why: 'Lord Howe, repeated 01:45 gives LHDT', zone: 'Australia/Lord_Howe', wall: '2024-04-07T01:45:00Z', utc: '2024-04-06T14:45:00Z' },
    { why: 'Lord Howe, skipped 02:15 gives 02:45 LHDT', zone: 'Australia/Lord_Howe', wall: '2024-10-06T02:15:00Z', utc: '2024-10-05T15:45:00Z' },
    { why: 'Santiago, skipped midnight gives 01:00 -03', zone: 'America/Santiago', wall: '2024-09-08T00:00:00Z', utc: '2024-09-08T04:00:00Z' },
    { why: 'Santiago, repeated 23:30 gives -03', zone: 'America/Santiago', wall: '2024-04-06T23:30:00Z', utc: '2024-04-07T02:30:00Z' },
    { why: 'Kolkata', zone: 'Asia/Kolkata', wall: '2024-06-03T00:00:00Z', utc: '2024-06-02T18:30:00Z' },
    { why: 'UTC', zone: 'UTC', wall: '2024-06-03T00:00:00.123Z', utc: '2024-06-03T00:00:00.123Z' },
  ];
  for (const row of rows) assert.is(iso(new Zone(row.zone).utcOf(at(row.wall))), row.utc, row.why);
});

utcOf('outside transitions utcOf inverts the offset', () => {
  const rnd = mulberry32(11);
  for (const name of ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) {
    const zone = new Zone(name);
    for (let k = 0; k < 500; k++) {
      const t = at('2020-01-01T00:00:00Z') + Math.floor(rnd() * 10 * 365 * DAY_MS);
      const offset = zone.offsetAt(t);
      // Away from a change, the wall time is unambiguous.
      if (zone.offsetAt(t - 3 * HOUR_MS) !== offset || zone.offsetAt(t + 3 * HOUR_MS) !== offset) continue;
      assert.is(zone.utcOf(t + offset), t, `${name} ${iso(t)}`);
    }
  }
});

const local = suite('core/zone: local fields');

local('hour, minute of day and weekday flip exactly at the window edges', () => {
  const rows: ReadonlyArray<{ why: string, zone: string, at: string, hour: number, minuteOfDay: number, weekday: number }> = [
    { why: 'Berlin, the last ms before spring forward', zone: 'Europe/Berlin', at: '2024-03-31T00:59:59.999Z', hour: 1, minuteOfDay: 119, weekday: 6 },
    { why: 'Berlin, spring forward', zone: 'Europe/Berlin', at: '2024-03-31T01:00:00Z', hour: 3, minuteOfDay: 180, weekday: 6 },
    { why: 'Berlin, the last ms of CEST', zone: 'Europe/Berlin', at: '2024-10-27T00:59:59.999Z', hour: 2, minuteOfDay: 179, weekday: 6 },
    { why: 'Berlin, fall back', zone: 'Europe/Berlin', at: '2024-10-27T01:00:00Z', hour: 2, minuteOfDay: 120, weekday: 6 },
    { why: 'Berlin, the last ms of a week', zone: 'Europe/Berlin', at: '2024-12-29T22:59:59.999Z', hour: 23, minuteOfDay: 1439, weekday: 6 },
    { why: 'Berlin, Monday 00:00', zone: 'Europe/Berlin', at: '2024-12-29T23:00:00Z', hour: 0, minuteOfDay: 0, weekday: 0 },
    { why: 'Kolkata, Monday 00:00', zone: 'Asia/Kolkata', at: '2024-06-02T18:30:00Z', hour: 0, minuteOfDay: 0, weekday: 0 },
    { why: 'Kolkata, Sunday 23:59', zone: 'Asia/Kolkata', at: '2024-06-02T18:29:59.999Z', hour: 23, minuteOfDay: 1439, weekday: 6 },
    { why: 'New York, Friday evening is Saturday in UTC', zone: 'America/New_York', at: '2024-06-01T03:59:00Z', hour: 23, minuteOfDay: 1439, weekday: 4 },
    { why: 'Santiago, the first instant of the day without midnight', zone: 'America/Santiago', at: '2024-09-08T04:00:00Z', hour: 1, minuteOfDay: 60, weekday: 6 },
    { why: 'Lord Howe, the repeated half hour', zone: 'Australia/Lord_Howe', at: '2024-04-06T15:00:00Z', hour: 1, minuteOfDay: 90, weekday: 6 },
    { why: 'UTC, before the epoch', zone: 'UTC', at: '1969-12-31T23:59:59.999Z', hour: 23, minuteOfDay: 1439, weekday: 2 },
  ];
  for (const row of rows) {
    assert.equal(new Zone(row.zone).local(at(row.at)), { hour: row.hour, minuteOfDay: row.minuteOfDay, weekday: row.weekday }, row.why);
  }
});

const WEEKDAY_INDEX: Readonly<Record<string, number>> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** Local fields and date straight from Intl, with no cache of the code under test. */
function intlLocal (format: Intl.DateTimeFormat, t: number): { fields: { hour: number, minuteOfDay: number, weekday: number }, date: string } {
  const p: Record<string, string> = {};
  for (const part of format.formatToParts(new Date(t))) p[part.type] = part.value;
  const hour = Number(p.hour);
  return { fields: { hour, minuteOfDay: hour * 60 + Number(p.minute), weekday: WEEKDAY_INDEX[p.weekday ?? '']! }, date: `${p.year}-${p.month}-${p.day}` };
}

local('one Zone walked over DST days forwards, backwards and shuffled agrees with Intl at every minute', () => {
  // local() answers from the run of slices around the last offset it looked up; these walks
  // move that run across offset changes in every direction. Adelaide (+09:30/+10:30) and Lord
  // Howe (+10:30/+11:00, a half-hour change) put offset changes off the hour.
  const days: ReadonlyArray<{ zone: string, date: string, hours: number }> = [
    { zone: 'Europe/Berlin', date: '2024-03-31', hours: 23 },
    { zone: 'Europe/Berlin', date: '2024-10-27', hours: 25 },
    { zone: 'Australia/Adelaide', date: '2024-04-07', hours: 25 },
    { zone: 'Australia/Adelaide', date: '2024-10-06', hours: 23 },
    { zone: 'Australia/Lord_Howe', date: '2024-04-07', hours: 24.5 },
    { zone: 'Asia/Kolkata', date: '2024-06-02', hours: 24 },
  ];
  const rnd = mulberry32(20261203);
  for (const { zone, date, hours } of days) {
    const format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    const from = at(`${date}T00:00:00Z`) - 16 * HOUR_MS;
    const instants: number[] = [];
    for (let t = from; t < from + 56 * HOUR_MS; t += MINUTE_MS) instants.push(t, t + 59_999);
    const want = new Map(instants.map((t) => [t, intlLocal(format, t)]));
    const inDay = instants.filter((t) => want.get(t)!.date === date).length / 2;
    assert.is(inDay, hours * 60, `${zone} ${date} lasts ${hours} hours`);
    const shuffled = [...instants];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (const [order, list] of [['forwards', instants], ['backwards', [...instants].reverse()], ['shuffled', shuffled]] as const) {
      const z = new Zone(zone);
      for (const t of list) assert.equal(z.local(t), want.get(t)!.fields, `${zone} ${order} at ${iso(t)}`);
    }
  }
});

const toIso = suite('core/zone: toIso');

toIso('prints the wall time with the offset in force, and milliseconds only when present', () => {
  const rows: ReadonlyArray<{ zone: string, at: string, want: string }> = [
    { zone: 'Europe/Berlin', at: '2026-11-21T13:02:11Z', want: '2026-11-21T14:02:11+01:00' },
    { zone: 'Europe/Berlin', at: '2026-07-21T12:02:11.532Z', want: '2026-07-21T14:02:11.532+02:00' },
    { zone: 'Europe/Berlin', at: '2026-07-21T12:02:11.005Z', want: '2026-07-21T14:02:11.005+02:00' },
    { zone: 'Europe/Berlin', at: '2024-10-27T00:30:00Z', want: '2024-10-27T02:30:00+02:00' },
    { zone: 'Europe/Berlin', at: '2024-10-27T01:30:00Z', want: '2024-10-27T02:30:00+01:00' },
    { zone: 'America/New_York', at: '2024-01-01T04:59:59.999Z', want: '2023-12-31T23:59:59.999-05:00' },
    { zone: 'America/New_York', at: '2024-07-01T00:00:00Z', want: '2024-06-30T20:00:00-04:00' },
    { zone: 'America/St_Johns', at: '2024-01-15T12:00:00Z', want: '2024-01-15T08:30:00-03:30' },
    { zone: 'America/St_Johns', at: '2024-07-15T12:00:00Z', want: '2024-07-15T09:30:00-02:30' },
    { zone: 'Asia/Kolkata', at: '2024-06-02T18:30:00Z', want: '2024-06-03T00:00:00+05:30' },
    { zone: 'Pacific/Chatham', at: '2024-06-01T00:00:00Z', want: '2024-06-01T12:45:00+12:45' },
    { zone: 'Australia/Lord_Howe', at: '2024-04-06T15:00:00Z', want: '2024-04-07T01:30:00+10:30' },
    { zone: 'Europe/London', at: '2024-01-15T12:00:00Z', want: '2024-01-15T12:00:00+00:00' },
    { zone: 'UTC', at: '2024-01-15T12:00:00Z', want: '2024-01-15T12:00:00Z' },
    { zone: 'UTC', at: '1969-12-31T23:59:59.999Z', want: '1969-12-31T23:59:59.999Z' },
  ];
  for (const row of rows) assert.is(new Zone(row.zone).toIso(at(row.at)), row.want, `${row.zone} ${row.at}`);
});

toIso('the printed time parses back to the same instant', () => {
  const rnd = mulberry32(3);
  for (const name of ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'America/St_Johns', 'Australia/Lord_Howe', 'UTC']) {
    const zone = new Zone(name);
    for (let k = 0; k < 300; k++) {
      const t = at('2000-01-01T00:00:00Z') + Math.floor(rnd() * 40 * 365 * DAY_MS);
      assert.is(Date.parse(zone.toIso(t)), t, `${name} ${iso(t)}`);
    }
  }
});

const civil = suite('core/zone: civil dates');

civil('civilFromDays and daysFromCivil agree with Date and invert each other over ±400 years', () => {
  const first = daysFromCivil(1570, 1, 1);
  const last = daysFromCivil(2370, 12, 31);
  assert.is(last - first + 1, 801 * 365 + 194, '801 years with 194 leap years: 1600 and 2000 are, 1700, 1800, 1900, 2100, 2200, 2300 are not');
  for (let days = first; days <= last; days++) {
    const [y, m, d] = civilFromDays(days);
    const date = new Date(days * DAY_MS);
    if (y !== date.getUTCFullYear() || m !== date.getUTCMonth() + 1 || d !== date.getUTCDate()) {
      assert.unreachable(`day ${days}: ${y}-${m}-${d}, Date says ${date.toISOString()}`);
    }
    if (daysFromCivil(y, m, d) !== days) assert.unreachable(`day ${days} does not round-trip through ${y}-${m}-${d}`);
  }
});

civil('known dates', () => {
  const rows: ReadonlyArray<[number, [number, number, number]]> = [
    [0, [1970, 1, 1]],
    [-1, [1969, 12, 31]],
    [11016, [2000, 2, 29]],
    [19782, [2024, 2, 29]],
    [-719468, [0, 3, 1]],
    [2932896, [9999, 12, 31]],
  ];
  for (const [days, ymd] of rows) {
    assert.equal(civilFromDays(days), ymd, `day ${days}`);
    assert.is(daysFromCivil(...ymd), days, ymd.join('-'));
  }
  assert.is(MINUTE_MS * 60, HOUR_MS);
});

days.run();
hours.run();
weeks.run();
months.run();
partition.run();
utcOf.run();
local.run();
toIso.run();
civil.run();
