/**
 * core/compile.ts: earliestWindowEnd, which remembers the intersection of the calendar windows
 * it last computed, against the minimum of every rule's window end.
 * Run: npx tsc -p tsconfig.json && node dist/test/core/compile.test.js
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileRules } from '../../core/compile.js';
import type { CalendarUnit } from '../../core/rules-config.js';
import { HOUR_MS, MINUTE_MS, Zone } from '../../core/zone.js';
import { rule, rules } from '../helpers/config.js';
import { mulberry32 } from '../helpers/prng.js';

const ends = suite('core/compile: earliestWindowEnd');

const UNITS: readonly CalendarUnit[] = ['minute', 'hour', 'day', 'week', 'month'];

/** The definition: the minimum over each unit's window (a Zone of its own) and the sliding length. */
function expected (zone: Zone, units: readonly CalendarUnit[], sliding: number | undefined, ts: number): number {
  let end = sliding === undefined ? Infinity : ts + sliding;
  for (const u of units) end = Math.min(end, zone.window(u, ts).end);
  return end === Infinity ? ts + MINUTE_MS : end;
}

ends('agrees with the minimum of the window ends, in order, across DST and jumping around', () => {
  const rnd = mulberry32(20261203);
  const cases: ReadonlyArray<{ zone: string, units: readonly CalendarUnit[], sliding?: number }> = [
    { zone: 'Europe/Berlin', units: UNITS, sliding: 10 * MINUTE_MS },
    { zone: 'Europe/Berlin', units: ['day', 'week'] },
    { zone: 'Australia/Lord_Howe', units: ['hour', 'month'], sliding: 8 * HOUR_MS },
    { zone: 'UTC', units: [], sliding: 15 * MINUTE_MS },
    { zone: 'UTC', units: [] },
  ];
  for (const c of cases) {
    const list = [
      ...c.units.map((unit, i) => rule({ id: `c${i}`, window: { kind: 'calendar', unit } })),
      ...(c.sliding === undefined ? [] : [rule({ id: 's', window: { kind: 'sliding', ms: c.sliding, text: 'x' } })]),
    ];
    const compiled = compileRules(rules(list, { timezone: c.zone }));
    // Berlin's spring-forward and fall-back days, Lord Howe's half-hour change, then jumps.
    let ts = Date.parse('2024-03-30T20:00:00Z');
    const stops = [ts];
    for (let i = 0; i < 3000; i++) stops.push(ts += Math.floor(rnd() * 3 * MINUTE_MS) - 20_000);
    ts = Date.parse('2024-10-26T22:00:00Z');
    for (let i = 0; i < 3000; i++) stops.push(ts += Math.floor(rnd() * 3 * MINUTE_MS) - 20_000);
    for (let i = 0; i < 500; i++) stops.push(Date.parse('2024-01-01T00:00:00Z') + Math.floor(rnd() * 366 * 24) * HOUR_MS + Math.floor(rnd() * 3) - 1);
    const zone = new Zone(c.zone);
    for (const t of stops) assert.is(compiled.earliestWindowEnd(t), expected(zone, c.units, c.sliding, t), `${c.zone} [${c.units.join(', ')}] at ${new Date(t).toISOString()}`);
  }
});

ends.run();
