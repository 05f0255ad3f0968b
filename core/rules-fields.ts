/**
 * The record fields a rule may name in `by`, `where`, `measure` and `account_scoped`
 * (records.md), and how a literal written in a rules file is typed for each. Text fields keep
 * literals as written, so `caller: 0049301` is the text "0049301", not the number 49301.
 * `ts` is not among them: rules reach event time through `hour`, `weekday` and `hours`.
 */
import type { CompareOp, Scalar } from './rules-config.js';
import { DIRECTIONS, SERVICES, WEEKDAYS } from './usage-record.js';
import { didYouMean } from './did-you-mean.js';
import { orList } from './rules-yaml.js';
import { isSupportedCountry } from 'libphonenumber-js/min';

type FieldKind = 'text' | 'enum' | 'country' | 'number' | 'boolean' | 'group' | 'any';

const KINDS: Readonly<Record<string, FieldKind>> = {
  id: 'text',
  account: 'text',
  subscription: 'text',
  caller: 'text',
  called: 'text',
  called_raw: 'text',
  service: 'enum',
  duration: 'number',
  answered: 'boolean',
  cost: 'number',
  currency: 'text',
  trunk: 'text',
  provider: 'text',
  direction: 'enum',
  origin: 'country',
  device: 'text',
  country: 'country',
  hour: 'number',
  weekday: 'enum',
  group: 'group',
};

const ENUMS: Readonly<Record<string, readonly string[]>> = {
  service: SERVICES,
  direction: DIRECTIONS,
  weekday: WEEKDAYS,
};

export const FIELD_NAMES: readonly string[] = Object.keys(KINDS);

const ATTR = /^attrs\.\S+$/;

function kindOf (field: string): FieldKind | undefined {
  if (Object.hasOwn(KINDS, field)) return KINDS[field];
  return ATTR.test(field) ? 'any' : undefined;
}

export function isField (name: string): boolean {
  return kindOf(name) !== undefined;
}

/** `; did you mean "x"?`, or a pointer to attrs.NAME when nothing is close. */
export function unknownFieldHint (name: string, extra: readonly string[] = []): string {
  if (name === 'ts') return '; rules reach event time through hour, weekday and hours';
  const hint = didYouMean(name, [...FIELD_NAMES, ...extra]);
  if (hint !== '' || name.includes('.') || !/^\w+$/.test(name)) return hint;
  return `; a record attribute is written attrs.${name}`;
}

/** Fields that hold numbers: those `sum`, `avg`, `max`, `lt`… and `<` apply to. */
export function isNumericField (field: string): boolean {
  const kind = kindOf(field);
  return kind === 'number' || kind === 'any';
}

/** Fields that hold text: those `prefix` applies to. */
export function isTextField (field: string): boolean {
  const kind = kindOf(field);
  return kind !== 'number' && kind !== 'boolean' && kind !== undefined;
}

export const NUMERIC_FIELDS_TEXT = 'duration, cost, hour or attrs.NAME';

/** A literal as written: its text, and the value YAML (or inferScalar) gave it. */
export interface Literal { readonly text: string, readonly value: Scalar }

/** How an unquoted word in `ratio(...)` or a line of a list file reads: number, boolean or text. */
export function inferScalar (text: string): Scalar {
  if (/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  return text;
}

export type Typed = { readonly ok: true, readonly value: Scalar } | { readonly ok: false, readonly expect: string, readonly hint: string };

/** Codes analysts write that ISO 3166-1 spells otherwise (the EU's and the UN's own usage). */
const COMMON_MISTAKES: Readonly<Record<string, string>> = { UK: 'GB', EL: 'GR' };

/**
 * Types `lit` for `field`, or says what the field expects. `groups` are the names defined
 * under `groups`, since a `group` condition naming an undefined group can never hold.
 */
export function typeLiteral (field: string, lit: Literal, groups: ReadonlyMap<string, unknown>): Typed {
  const kind = kindOf(field) ?? 'any';
  switch (kind) {
    case 'text': return { ok: true, value: lit.text };
    case 'any': return { ok: true, value: lit.value };
    case 'enum': {
      const values = ENUMS[field] ?? [];
      if (values.includes(lit.text)) return { ok: true, value: lit.text };
      return { ok: false, expect: orList(values), hint: didYouMean(lit.text, values) };
    }
    case 'country':
      if (field === 'country' && /^[A-Z]{2}$/.test(lit.text) && !isSupportedCountry(lit.text)) {
        // `country` comes from the numbering plan: a code no number belongs to (UK, EL) never matches.
        const known = COMMON_MISTAKES[lit.text];
        return {
          ok: false,
          expect: 'an ISO 3166-1 alpha-2 country code of the numbering plan such as DE',
          hint: known !== undefined ? `; did you mean "${known}"?` : '',
        };
      }
      if (/^[A-Z]{2}$/.test(lit.text)) return { ok: true, value: lit.text };
      return {
        ok: false,
        expect: 'an ISO 3166-1 alpha-2 country code such as DE',
        hint: /^[a-z]{2}$/i.test(lit.text) ? `; did you mean "${lit.text.toUpperCase()}"?` : '',
      };
    case 'number':
      if (typeof lit.value === 'number') return { ok: true, value: lit.value };
      return { ok: false, expect: 'a number', hint: '' };
    case 'boolean':
      if (typeof lit.value === 'boolean') return { ok: true, value: lit.value };
      return { ok: false, expect: 'true or false', hint: '' };
    case 'group':
      if (groups.has(lit.text)) return { ok: true, value: lit.text };
      return {
        ok: false,
        expect: groups.size === 0 ? 'a group defined under groups (none are defined)' : 'a group defined under groups',
        hint: didYouMean(lit.text, groups.keys()),
      };
  }
}

/** True when every entry of a list may be used for `field` unchanged (no per-entry work). */
export function takesTextAsIs (field: string): boolean {
  const kind = kindOf(field);
  return kind === 'text' || kind === 'any';
}

export interface RawComparison { readonly field: string, readonly op: CompareOp, readonly lit: Literal }

const COMPARISON = /^\s*([A-Za-z_]\w*(?:\.[^\s<>=!]+)?)\s*(<=|>=|==|!=|<|>)\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>=!]+))\s*$/;

/** `duration < 6`, `service == sms`, `attrs.tier != "gold"`: one comparison, or undefined. */
export function splitComparison (text: string): RawComparison | undefined {
  const m = COMPARISON.exec(text);
  if (m === null) return undefined;
  const quoted = m[3] ?? m[4];
  const lit: Literal = quoted !== undefined
    ? { text: quoted, value: quoted }
    : { text: m[5] as string, value: inferScalar(m[5] as string) };
  return { field: m[1] as string, op: m[2] as CompareOp, lit };
}
