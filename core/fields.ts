/**
 * Field access for rules: `by`, `where` and measures name record fields by path (`caller`,
 * `attrs.tier`). Getters are built once per path at compile time so that the hot path does
 * no string splitting.
 */
import type { UsageRecord } from './usage-record.js';

export type FieldType = 'string' | 'number' | 'boolean' | 'strings' | 'any';

const TYPES: Readonly<Record<string, FieldType>> = {
  id: 'string',
  account: 'string',
  subscription: 'string',
  caller: 'string',
  called: 'string',
  called_raw: 'string',
  service: 'string',
  duration: 'number',
  answered: 'boolean',
  cost: 'number',
  currency: 'string',
  trunk: 'string',
  provider: 'string',
  direction: 'string',
  origin: 'string',
  device: 'string',
  country: 'string',
  hour: 'number',
  weekday: 'string',
  group: 'strings',
};

export function fieldType (path: string): FieldType {
  return TYPES[path] ?? 'any';
}

export type Getter = (record: UsageRecord) => unknown;

export function fieldGetter (path: string): Getter {
  if (path.startsWith('attrs.')) {
    const name = path.slice('attrs.'.length);
    return (r) => r.attrs?.[name];
  }
  // One literal per field, so that each access site sees one property name (a shared
  // `r[key]` site goes megamorphic across fields and costs a hash lookup per read).
  switch (path) {
    case 'id': return (r) => r.id;
    case 'account': return (r) => r.account;
    case 'subscription': return (r) => r.subscription;
    case 'caller': return (r) => r.caller;
    case 'called': return (r) => r.called;
    case 'called_raw': return (r) => r.called_raw;
    case 'service': return (r) => r.service;
    case 'duration': return (r) => r.duration;
    case 'answered': return (r) => r.answered;
    case 'cost': return (r) => r.cost;
    case 'currency': return (r) => r.currency;
    case 'trunk': return (r) => r.trunk;
    case 'provider': return (r) => r.provider;
    case 'direction': return (r) => r.direction;
    case 'origin': return (r) => r.origin;
    case 'device': return (r) => r.device;
    case 'country': return (r) => r.country;
    case 'hour': return (r) => r.hour;
    case 'weekday': return (r) => r.weekday;
    case 'group': return (r) => r.group;
    case 'ts': return (r) => r.ts;
    default: {
      // The parser lets only known fields through; anything else reads as absent.
      return () => undefined;
    }
  }
}

/** A getter for a numeric measure (`sum(cost)`): undefined when the record has no number there. */
export function numberGetter (path: string): (record: UsageRecord) => number | undefined {
  const get = fieldGetter(path);
  return (r) => {
    const v = get(r);
    return typeof v === 'number' ? v : undefined;
  };
}
