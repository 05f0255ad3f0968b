/**
 * A rules file after parsing and validation: plain data with every reference resolved
 * (`$list` names replaced by their values, durations in milliseconds, limits as numbers).
 * The parser (rules-parse.ts) produces it; the compiler (compile.ts) consumes it. Nothing
 * here can be invalid by construction except through the parser, which reports file:line:col.
 */
import type { Weekday } from './usage-record.js';

export const CALENDAR_UNITS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type CalendarUnit = typeof CALENDAR_UNITS[number];

export type WindowSpec =
  | { readonly kind: 'calendar', readonly unit: CalendarUnit }
  | { readonly kind: 'sliding', readonly ms: number, readonly text: string };

/** A rule's window: `measure: risk` has none (`decay`): its score decays with the file's `risk.half_life`. */
export type RuleWindow = WindowSpec | { readonly kind: 'decay' };

/** One part of a counter key. `field` is a record field path: `account`, `attrs.tier`, `group`, … */
export type KeyPart =
  | { readonly kind: 'field', readonly field: string }
  | { readonly kind: 'prefix', readonly field: string, readonly n: number }
  | { readonly kind: 'trim', readonly field: string, readonly n: number };

export type Scalar = string | number | boolean;
export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** `ratio(duration < 6)`: one comparison of a field with a literal. */
export interface Comparison { readonly field: string, readonly op: CompareOp, readonly value: Scalar }

export type Measure =
  | { readonly kind: 'count' }
  | { readonly kind: 'sum' | 'avg' | 'max' | 'distinct', readonly field: string }
  | { readonly kind: 'concurrent' }
  | { readonly kind: 'ratio', readonly cond: Comparison }
  /** records whose value of `field` the key has not used within the rule's `history` */
  | { readonly kind: 'new', readonly field: string }
  /** the key's decayed risk score: the sum of the `score`s of the alerts raised for it */
  | { readonly kind: 'risk' };

export type Condition =
  | { readonly op: 'eq', readonly value: Scalar }
  | { readonly op: 'in' | 'not_in', readonly values: readonly Scalar[] }
  | { readonly op: 'prefix' | 'not_prefix', readonly values: readonly string[] }
  | { readonly op: 'lt' | 'lte' | 'gt' | 'gte', readonly value: number }
  | { readonly op: 'between', readonly low: number, readonly high: number }
  | { readonly op: 'exists', readonly value: boolean };

export type Filter =
  | { readonly kind: 'all', readonly of: readonly Filter[] }
  | { readonly kind: 'any', readonly of: readonly Filter[] }
  | { readonly kind: 'not', readonly of: Filter }
  | { readonly kind: 'field', readonly field: string, readonly cond: Condition }
  /** Minutes of the local day; `from > to` wraps midnight; `to` is exclusive. */
  | { readonly kind: 'hours', readonly from: number, readonly to: number }
  | { readonly kind: 'weekday', readonly days: readonly Weekday[] };

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

export type Warning =
  | { readonly kind: 'absolute', readonly value: number }
  /** A share of the effective limit: `"80%"` is 0.8. */
  | { readonly kind: 'share', readonly value: number };

export interface HourShape { readonly from: number, readonly to: number, readonly factor: number }
export interface Shape {
  /** Factor per weekday, index 0 = Monday; 1 where not given. */
  readonly weekday: readonly number[];
  /** `"H-H": factor` ranges of local hours, end exclusive, may wrap midnight. */
  readonly hour: readonly HourShape[];
}

export interface Adaptive { readonly over: number, readonly factor: number, readonly min: number }

export interface Position { readonly line: number, readonly col: number }

export interface RuleConfig {
  readonly id: string;
  readonly description?: string;
  readonly by: readonly KeyPart[];
  readonly measure: Measure;
  readonly window: RuleWindow;
  readonly where?: Filter;
  /** Absent only for an `adaptive` rule without a floor. */
  readonly limit?: number;
  readonly limits: ReadonlyMap<string, number>;
  readonly warning?: Warning;
  readonly severity: Severity;
  readonly minCount: number;
  readonly shape?: Shape;
  readonly adaptive?: Adaptive;
  /** Channel names; absent means every channel. */
  readonly notify?: readonly string[];
  readonly action?: 'block';
  readonly score?: number;
  /** `new(F)`: how long a value stays known to the key, in ms (default 30 days). */
  readonly history?: number;
  readonly enabled: boolean;
  /** `enabled: shadow`: evaluated live, alerts marked `shadow` and kept from channels, blocklist and risk. */
  readonly shadow?: true;
  /** Where the rule starts in its file, for messages. */
  readonly position: Position;
}

export interface TariffRate {
  readonly prefix: string;
  readonly perMinute: number;
  readonly perSms: number;
  readonly connect: number;
  /** Billing increments "60/1": first `first` seconds billed whole, then every started `next` seconds. */
  readonly first: number;
  readonly next: number;
}

export interface Tariff { readonly currency?: string, readonly rates: readonly TariffRate[] }

/** A channel's settings as written; notifications.md validates them in the notifier. */
export interface ChannelConfig { readonly type: string, readonly settings: Readonly<Record<string, unknown>> }

export interface RulesConfig {
  readonly version: 1;
  readonly file: string;
  readonly timezone: string;
  readonly accountScoped: readonly string[];
  readonly homeCountry?: string;
  /** Milliseconds a window is kept after its end; default one hour. */
  readonly lateness: number;
  /** `risk: { half_life }` in ms; absent means one day. */
  readonly risk?: { readonly halfLife: number };
  readonly lists: ReadonlyMap<string, readonly Scalar[]>;
  /** group name -> accounts */
  readonly groups: ReadonlyMap<string, readonly string[]>;
  readonly tariff?: Tariff;
  readonly channels: ReadonlyMap<string, ChannelConfig>;
  readonly rules: readonly RuleConfig[];
}
