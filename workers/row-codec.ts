/**
 * How a counter row is written to LMDB: as nested arrays in a fixed field order, packed with
 * msgpackr. The object form (core's Row) packed as it is cost 3.6-8 us and 322 bytes per row
 * on the demo traffic, more than the engine spent applying the records that changed it (with
 * no shared structures, every value re-describes its objects' fields); as tuples the shard's
 * commit path packs the same rows in about 60 % of the time, and LMDB holds half the bytes per
 * key (bench/RESULTS.md). The field order below is the format: add fields at the end of a
 * tuple, never reorder.
 *
 * Rows written as objects by earlier versions still read (decodeRow takes both forms).
 */
import type { Cell, CalendarCell, Row } from '../core/engine.js';
import type { CalendarWindow, SlidingState } from '../core/measure.js';
import type { RiskCell } from '../core/risk.js';
import { disk } from './codec.js';

/** The first element of a row tuple: its format. */
const ROW_TUPLES = 1;
const CALENDAR = 0;
const SLIDING = 1;
const RISK = 2;

type Tuple = unknown[];

/** A malformed row value: the store reports it with the row's key. */
export class BadRowError extends Error {}

export function encodeRow (row: Row): Buffer {
  const cells: Tuple = new Array(row.cells.length);
  for (let i = 0; i < row.cells.length; i++) {
    const cell = row.cells[i];
    cells[i] = cell === undefined || cell === null ? null : cellTuple(cell);
  }
  return disk.pack([ROW_TUPLES, row.key, row.shard, cells]);
}

export function decodeRow (bytes: Uint8Array): Row {
  let value: unknown;
  try { value = disk.unpack(bytes); } catch (err) { throw new BadRowError('not MessagePack', { cause: err }); }
  if (!Array.isArray(value)) {
    // A row written as an object (before tuples).
    if (typeof value !== 'object' || value === null || !Array.isArray((value as { cells?: unknown }).cells) || typeof (value as { key?: unknown }).key !== 'string') throw new BadRowError('neither a row tuple nor a row object');
    return value as Row;
  }
  const [format, key, shard, cells] = value as [unknown, unknown, unknown, unknown];
  if (format !== ROW_TUPLES || typeof key !== 'string' || typeof shard !== 'number' || !Array.isArray(cells)) throw new BadRowError('not a row tuple');
  return { key, shard, cells: cells.map((c) => c === null ? undefined : cellOf(c)) };
}

function cellTuple (cell: Cell): Tuple {
  if ('windows' in cell) {
    return [CALENDAR, cell.windows.map(windowTuple), cell.hist ?? null, cell.seen ?? null];
  }
  if ('ts' in cell) {
    const s = cell;
    return [SLIDING, s.ts, s.xs, s.keys, s.ends, s.head, s.n, s.a, s.newest, s.distinct ?? null, s.limits ?? null, s.fired, s.seen ?? null];
  }
  const r = cell;
  return [RISK, r.score, r.at, r.n, r.contributions, r.limits ?? null, r.fired];
}

function windowTuple (w: CalendarWindow): Tuple {
  return [w.start, w.end, w.n, w.a, w.distinct ?? null, w.ends ?? null, w.starts ?? null, w.newestStart, w.limits ?? null, w.fired];
}

function cellOf (t: unknown): Cell {
  if (!Array.isArray(t)) throw new BadRowError('a cell is not a tuple');
  switch (t[0]) {
    case CALENDAR: {
      if (!Array.isArray(t[1])) throw new BadRowError('a calendar cell without windows');
      const cell: CalendarCell = { windows: (t[1] as unknown[]).map(windowOf) };
      if (present(t[2])) cell.hist = t[2] as number[];
      if (present(t[3])) cell.seen = t[3] as Map<string, number>;
      return cell;
    }
    case SLIDING: {
      const s: SlidingState = {
        ts: t[1] as number[],
        xs: t[2] as number[],
        keys: t[3] as string[],
        ends: t[4] as number[],
        head: t[5] as number,
        n: t[6] as number,
        a: t[7] as number,
        newest: t[8] as number,
        distinct: (t[9] ?? undefined) as Map<string, number> | undefined,
        limits: (t[10] ?? undefined) as number[] | undefined,
        fired: t[11] as number[],
      };
      if (present(t[12])) s.seen = t[12] as Map<string, number>;
      if (!Array.isArray(s.ts) || !Array.isArray(s.fired)) throw new BadRowError('a sliding cell without events');
      return s;
    }
    case RISK: {
      const r: RiskCell = {
        score: t[1] as number,
        at: t[2] as number,
        n: t[3] as number,
        contributions: t[4] as RiskCell['contributions'],
        limits: (t[5] ?? undefined) as number[] | undefined,
        fired: t[6] as number[],
      };
      if (!Array.isArray(r.contributions) || !Array.isArray(r.fired)) throw new BadRowError('a risk cell without contributions');
      return r;
    }
    default: throw new BadRowError(`a cell of unknown kind ${String(t[0])}`);
  }
}

/** An optional field written (null and a missing tail both mean absent). */
function present (v: unknown): boolean {
  return v !== null && v !== undefined;
}

function windowOf (t: unknown): CalendarWindow {
  if (!Array.isArray(t) || !Array.isArray(t[9])) throw new BadRowError('a window is not a tuple');
  return {
    start: t[0] as number,
    end: t[1] as number,
    n: t[2] as number,
    a: t[3] as number,
    distinct: (t[4] ?? undefined) as Set<string> | undefined,
    ends: (t[5] ?? undefined) as number[] | undefined,
    starts: (t[6] ?? undefined) as number[] | undefined,
    newestStart: t[7] as number,
    limits: (t[8] ?? undefined) as number[] | undefined,
    fired: t[9] as number[],
  };
}
