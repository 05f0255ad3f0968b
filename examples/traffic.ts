/**
 * Normal traffic of a German carrier, reproducible from a seed: the customer base (consumers,
 * business PBXs, SMS aggregators, wholesale partners), each account's daily volume (skewed:
 * a few accounts make most of the traffic, as in every carrier), its daily curve and its
 * destination mix. frauds.ts adds the labelled fraud cases; generate.ts writes the lines.
 *
 * Volumes are tuned so that normal traffic stays under examples/rules.yaml's thresholds:
 * alerts on a replay should come from the injected cases (and a few honest borderline keys).
 */
import type { Rng } from './prng.js';
import { digits, intBetween, logNormal, pick } from './prng.js';
import type { Mix } from './numbers.js';
import { RANGES, numberIn, pickRange, price, providerFor, switchFormat } from './numbers.js';
import { Zone } from '../core/zone.js';

export type Kind = 'consumer' | 'business' | 'a2p' | 'wholesale';

export interface Subscriber { readonly id: string, readonly caller: string, readonly device?: string }

export interface Account {
  readonly id: string;
  readonly kind: Kind;
  /** mean events on a weekday */
  readonly daily: number;
  readonly subs: readonly Subscriber[];
  readonly trunk?: string;
  /** numbers this account calls again and again */
  readonly contacts: readonly string[];
  readonly mix: Mix;
  /** visited country while roaming during the generated days, consumers only */
  readonly roaming?: string;
}

/**
 * One record before it is written: when it starts (the sort key) and its raw JSON fields, or
 * the raw text of a line that is not valid JSON. `label` gets the record's line number.
 */
export interface Event { ts: number, rec: Record<string, unknown> | string, label?: { line?: number } }

export const ZONE = new Zone('Europe/Berlin');
const HOUR = 3_600_000;

const CONSUMER_MIX: Mix = [['deMobile', 40], ['deMobile7', 14], ['deBerlin', 14], ['deFixed', 18], ['at', 1.2], ['ch', 1], ['pl', 1], ['tr', 1], ['it', 1], ['fr', 0.6], ['es', 0.6], ['gb', 0.5], ['us', 0.4], ['nl', 0.4], ['ro', 0.4], ['hr', 0.3], ['dePremium', 0.1]];
const BUSINESS_MIX: Mix = [['deMobile', 26], ['deMobile7', 8], ['deBerlin', 22], ['deFixed', 24], ['at', 3], ['ch', 3], ['fr', 2.5], ['it', 2], ['nl', 2], ['gb', 2], ['us', 2], ['es', 1], ['pl', 1.5], ['tr', 0.5], ['in', 0.4], ['ro', 0.4]];
const WHOLESALE_MIX: Mix = [['tr', 12], ['pl', 8], ['ro', 8], ['ru', 7], ['ua', 7], ['rs', 6], ['in', 6], ['ph', 5], ['vn', 5], ['ng', 4], ['th', 3], ['it', 5], ['fr', 5], ['gb', 5], ['us', 5], ['so', 1.5], ['cu', 1]];
const A2P_MIX: Mix = [['deMobile', 60], ['deMobile7', 25], ['at', 3], ['ch', 3], ['pl', 2], ['tr', 2], ['gb', 2], ['fr', 2], ['ng', 0.5], ['in', 0.5]];

/** Diaspora customers call home a lot: country, share of their calls. */
const HOMES: ReadonlyArray<readonly [keyof typeof RANGES, number]> = [['tr', 0.35], ['pl', 0.3], ['ro', 0.3], ['ru', 0.3], ['ua', 0.3], ['rs', 0.3], ['ng', 0.25], ['th', 0.2], ['vn', 0.25], ['ph', 0.25], ['in', 0.25], ['hr', 0.3]];

// Share of a day's events per local hour, by kind.
const CURVES: Readonly<Record<Kind, readonly number[]>> = {
  consumer: [3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 8, 9, 10, 9, 9, 9, 10, 12, 14, 15, 15, 13, 9, 5],
  business: [0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 1, 4, 11, 15, 15, 13, 9, 12, 14, 14, 12, 8, 4, 2, 1, 0.6, 0.4, 0.3],
  a2p: [2, 1, 1, 1, 1, 2, 4, 7, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 8, 7, 6, 4, 3],
  wholesale: [4, 3, 3, 2, 2, 3, 4, 6, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 8, 7, 5],
};
/** Volume factor per weekday (0 = Monday), by kind: offices are closed at the weekend. */
const WEEKDAY_FACTOR: Readonly<Record<Kind, readonly number[]>> = {
  consumer: [1, 1, 1, 1, 1.05, 1.15, 1.1],
  business: [1, 1, 1, 1.1, 1, 0.2, 0.12],
  a2p: [1, 1, 1, 1, 1, 0.9, 0.9],
  wholesale: [1, 1, 1, 1, 1, 0.9, 0.9],
};

/** Zipf shares 1/rank^s, normalized to sum 1. */
function zipf (n: number, s: number): number[] {
  const w = Array.from({ length: n }, (_, i) => 1 / Math.pow(i + 1, s));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/** A local wall-clock instant `dayStart + ms` as UTC, right across DST changes. */
export function localTime (startWall: number, day: number, msOfDay: number): number {
  return ZONE.utcOf(startWall + day * 24 * HOUR + msOfDay);
}

/** A random ms of the local day following `curve`. */
export function msOfDayFrom (rnd: Rng, curve: readonly number[]): number {
  let total = 0;
  for (const w of curve) total += w;
  let x = rnd() * total;
  let hour = 0;
  for (; hour < 23; hour++) {
    x -= curve[hour] as number;
    if (x < 0) break;
  }
  return hour * HOUR + Math.floor(rnd() * HOUR);
}

function imei (rnd: Rng): string {
  return '35' + digits(rnd, 13);
}

/** Account ids the cases and the rules file refer to (rules.yaml limits, credit-limits.csv). */
export const NAMED = {
  contactCentre: '1088',
  bigBusiness: ['1402', '1750'],
  spedition: '1234',
  shipping: '1900',
  wholesale: ['W7001', 'W7002', 'W7003'],
  a2p: ['2001', '2002'],
} as const;

/**
 * The customer base. Ids are customer numbers from 1000 on; the named accounts keep their
 * ids whatever `n` is, so the rules file can name them.
 */
export function makeAccounts (rnd: Rng, n: number): Account[] {
  const ids: string[] = [];
  const named = new Set<string>([NAMED.contactCentre, ...NAMED.bigBusiness, NAMED.spedition, NAMED.shipping, ...NAMED.a2p]);
  for (let i = 0; ids.length < Math.max(n, 20) - named.size; i++) {
    const id = String(1000 + i);
    if (!named.has(id)) ids.push(id);
  }
  const nBusiness = Math.round(ids.length * 0.24);
  const business = [NAMED.contactCentre, ...NAMED.bigBusiness, ...ids.slice(0, nBusiness)];
  const consumers = ids.slice(nBusiness);
  const accounts: Account[] = [];

  // Business: Zipf over ranks; the contact centre and two large firms take the top ranks
  // (the rules file gives them their own limits), everyone else stays under 300 a day.
  const bShares = zipf(business.length, 1.0);
  const bBudget = 80 * business.length;
  const big = new Set<string>([NAMED.contactCentre, ...NAMED.bigBusiness]);
  const hosted = ['hpbx-ber-01', 'hpbx-ham-01', 'hpbx-muc-01'];
  business.forEach((id, rank) => {
    const daily = Math.min(big.has(id) ? 2500 : 300, Math.max(4, (bShares[rank] as number) * bBudget));
    const nSubs = Math.max(1, Math.min(120, Math.ceil(daily / 25)));
    const base = '+4930' + digits(rnd, 5);
    const subs = Array.from({ length: nSubs }, (_, i) => ({ id: `${id}-${String(i + 1).padStart(3, '0')}`, caller: base + String(10 + i).padStart(3, '0') }));
    const trunk = rank < 60 || rnd() < 0.5 ? `sip-${id}` : pick(rnd, hosted);
    accounts.push(business_(rnd, id, daily, subs, trunk));
  });
  accounts.push(business_(rnd, NAMED.spedition, 22, subsOf(NAMED.spedition, '+4930' + digits(rnd, 5), 3), `sip-${NAMED.spedition}`));
  // Reederei Nord: the $vip callers; their calls to the fleet's satellite phones come from frauds.ts (a control case).
  accounts.push(business_(rnd, NAMED.shipping, 12, [{ id: '1900-001', caller: '+494012345670' }, { id: '1900-002', caller: '+494012345671' }], `sip-${NAMED.shipping}`));

  // Consumers: mobile subscriptions with a handset, skewed but capped (a person talks only so much).
  const cShares = zipf(consumers.length, 0.6);
  const cBudget = 24 * consumers.length;
  // Ranks shuffled (Fisher-Yates), so that activity does not follow the customer number.
  const order = consumers.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  order.forEach((rank, i) => {
    const id = consumers[i] as string;
    const daily = Math.min(60, Math.max(2, (cShares[rank] as number) * cBudget));
    const home = rnd() < 0.08 ? pick(rnd, HOMES) : undefined;
    const mix: Mix = home === undefined ? CONSUMER_MIX : [...CONSUMER_MIX, [home[0], 85 * home[1] / (1 - home[1])]];
    const caller = numberIn(rnd, RANGES.deMobile);
    const roaming = rnd() < 0.03 ? pick(rnd, ['AT', 'ES', 'IT', 'FR', 'HR', 'US', 'TR']) : undefined;
    accounts.push({
      id,
      kind: 'consumer',
      daily,
      subs: [{ id: `${id}-001`, caller, device: imei(rnd) }],
      contacts: Array.from({ length: intBetween(rnd, 8, 40) }, () => numberIn(rnd, pickRange(rnd, mix))),
      mix,
      ...(roaming === undefined ? {} : { roaming }),
    });
  });

  for (const id of NAMED.a2p) {
    accounts.push({ id, kind: 'a2p', daily: 600, subs: [{ id: `${id}-otp`, caller: 'VERIFY' }], contacts: [], mix: A2P_MIX });
  }
  NAMED.wholesale.forEach((id, i) => {
    const subs = [{ id: `${id}-ix`, caller: '' }];
    accounts.push({ id, kind: 'wholesale', daily: [4500, 3000, 2000][i] as number, subs, trunk: `ix-${id.toLowerCase()}`, contacts: [], mix: WHOLESALE_MIX });
  });
  return accounts;
}

function subsOf (account: string, base: string, n: number): Subscriber[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${account}-${String(i + 1).padStart(3, '0')}`, caller: base + String(10 + i).padStart(3, '0') }));
}

function business_ (rnd: Rng, id: string, daily: number, subs: Subscriber[], trunk: string): Account {
  const contacts = Array.from({ length: Math.min(400, 20 + Math.round(daily)) }, () => numberIn(rnd, pickRange(rnd, BUSINESS_MIX)));
  return { id, kind: 'business', daily, subs, trunk, contacts, mix: BUSINESS_MIX };
}

/** Answered call durations in seconds: log-normal around ~1.5 min, long family calls home. */
function talkSeconds (rnd: Rng, called: string): number {
  const median = called.startsWith('+49') ? 80 : 240;
  return Math.max(1, Math.min(3 * 3600, Math.round(logNormal(rnd, median, 1.0))));
}

export interface VoiceOptions { readonly answered?: boolean, readonly duration?: number }

/**
 * One outbound voice record from `sub` of `account` to `called` (E.164), priced as mediation
 * would: most records carry a cost, the rest are left to the tariff.
 */
export function voice (rnd: Rng, account: Account, sub: Subscriber, ts: number, called: string, o: VoiceOptions = {}): Event {
  const answered = o.answered ?? rnd() < 0.74;
  const duration = o.duration ?? (answered ? talkSeconds(rnd, called) : 0);
  const rec: Record<string, unknown> = {
    account: account.id,
    subscription: sub.id,
    ...(sub.caller === '' ? { caller: numberIn(rnd, pickRange(rnd, WHOLESALE_MIX)) } : { caller: sub.caller }),
    called: switchFormat(rnd, called),
    service: 'voice',
    duration,
  };
  if (rnd() < 0.5) rec.answered = answered && duration > 0;
  priceInto(rnd, rec, called, 'voice', duration, answered && duration > 0);
  if (account.trunk !== undefined) rec.trunk = account.trunk;
  const provider = providerFor(rnd, called);
  if (provider !== undefined) rec.provider = provider;
  if (sub.device !== undefined) { rec.device = sub.device; rec.origin = account.roaming ?? 'DE'; }
  return { ts, rec };
}

export function sms (rnd: Rng, account: Account, sub: Subscriber, ts: number, called: string): Event {
  const rec: Record<string, unknown> = { account: account.id, subscription: sub.id, caller: sub.caller, called: switchFormat(rnd, called), service: 'sms' };
  priceInto(rnd, rec, called, 'sms', 0, true);
  if (sub.device !== undefined) { rec.device = sub.device; rec.origin = account.roaming ?? 'DE'; }
  return { ts, rec };
}

/** 30 % of records arrive unrated (roaming files, the hosted-PBX platform): the tariff rates them. */
function priceInto (rnd: Rng, rec: Record<string, unknown>, called: string, service: 'voice' | 'sms', duration: number, answered: boolean): void {
  if (rnd() < 0.3) return;
  rec.cost = price(called, service, duration, answered);
  rec.currency = 'EUR';
}

function data (rnd: Rng, account: Account, sub: Subscriber, ts: number): Event {
  const roaming = account.roaming;
  const mb = Math.round(logNormal(rnd, roaming === undefined ? 25 : 12, 1.2) * 100) / 100;
  return {
    ts,
    rec: {
      account: account.id,
      subscription: sub.id,
      caller: sub.caller,
      service: 'data',
      duration: intBetween(rnd, 60, 3600),
      cost: 0,
      currency: 'EUR',
      ...(sub.device === undefined ? {} : { device: sub.device }),
      origin: roaming ?? 'DE',
      attrs: { mb, apn: 'internet.example.de' },
    },
  };
}

function destination (rnd: Rng, account: Account): string {
  if (account.contacts.length > 0 && rnd() < 0.6) return pick(rnd, account.contacts);
  return numberIn(rnd, pickRange(rnd, account.mix));
}

/** One account's normal traffic on one local day. `weekday` 0 = Monday. */
export function normalDay (rnd: Rng, account: Account, startWall: number, day: number, weekday: number, out: Event[]): void {
  const mean = account.daily * (WEEKDAY_FACTOR[account.kind][weekday] as number) * (0.85 + 0.3 * rnd());
  const n = Math.floor(mean + rnd());
  const curve = CURVES[account.kind];
  for (let i = 0; i < n; i++) {
    const ts = localTime(startWall, day, msOfDayFrom(rnd, curve));
    const sub = pick(rnd, account.subs);
    const x = rnd();
    switch (account.kind) {
      case 'consumer':
        if (x < 0.18) out.push(data(rnd, account, sub, ts));
        else if (x < 0.38) out.push(sms(rnd, account, sub, ts, destination(rnd, account)));
        else if (x < 0.45) out.push(incoming(rnd, account, sub, ts));
        else out.push(voice(rnd, account, sub, ts, destination(rnd, account)));
        break;
      case 'business':
        if (x < 0.04) out.push(sms(rnd, account, sub, ts, destination(rnd, account)));
        else out.push(voice(rnd, account, sub, ts, destination(rnd, account)));
        break;
      case 'a2p':
        out.push(sms(rnd, account, sub, ts, numberIn(rnd, pickRange(rnd, account.mix))));
        break;
      case 'wholesale':
        // Transit answer-seizure ratio is 50-60 %, far below retail.
        out.push(voice(rnd, account, sub, ts, numberIn(rnd, pickRange(rnd, account.mix)), { answered: rnd() < 0.55 }));
        break;
    }
  }
}

/** A call a consumer receives: from the other party's number to ours; costs the customer nothing. */
function incoming (rnd: Rng, account: Account, sub: Subscriber, ts: number): Event {
  const from = destination(rnd, account);
  const answered = rnd() < 0.8;
  return {
    ts,
    rec: {
      account: account.id,
      subscription: sub.id,
      caller: from,
      called: switchFormat(rnd, sub.caller),
      service: 'voice',
      direction: 'in',
      duration: answered ? talkSeconds(rnd, from) : 0,
      cost: 0,
      ...(sub.device === undefined ? {} : { device: sub.device, origin: account.roaming ?? 'DE' }),
    },
  };
}
