/**
 * A usage record (CDR) after validation, normalization and derivation: the one shape every
 * rule sees. See ../shared/spec/records.md. Field names follow the spec (`called_raw`), so a
 * rule's `by` and `where` name them as written there.
 */
export const SERVICES = ['voice', 'sms', 'data'] as const;
export type Service = typeof SERVICES[number];
export const DIRECTIONS = ['out', 'in'] as const;
export type Direction = typeof DIRECTIONS[number];
/** Index 0 is Monday, as in ISO 8601 and in `week` windows. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = typeof WEEKDAYS[number];

export type AttrValue = string | number | boolean;

export interface UsageRecord {
  id: string;
  /** Event time, epoch milliseconds (UTC). */
  ts: number;
  account: string;
  subscription?: string;
  caller?: string;
  /** E.164 with a leading `+` when it could be normalized; otherwise as received. */
  called?: string;
  called_raw?: string;
  service: Service;
  duration: number;
  answered: boolean;
  cost?: number;
  currency?: string;
  trunk?: string;
  provider?: string;
  direction: Direction;
  origin?: string;
  device?: string;
  attrs?: Record<string, AttrValue>;
  // Derived, in the rules' time zone.
  country?: string;
  hour: number;
  weekday: Weekday;
  /** Minutes since local midnight (0–1439): what `hours: "22:00-06:00"` filters on. */
  minuteOfDay: number;
  /** Groups the rules' `groups` map the account to; empty when none. */
  group: readonly string[];
}

/** Where a raw record came from, for rejects: `file:line` or `subject#sequence`. */
export interface SourcePosition {
  readonly source: string;
  readonly line?: number;
  readonly seq?: number;
}

/** A record that was not accepted, with the reason and where it came from. Never silently dropped. */
export interface Reject {
  readonly reason: string;
  readonly code: string;
  readonly position: SourcePosition;
  /** The raw input, clipped to a few KiB. */
  readonly raw: string;
}
