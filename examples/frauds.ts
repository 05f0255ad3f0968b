/**
 * The labelled cases the demo must catch, injected into normal traffic: each case adds its
 * records and a label naming the (rule, key) alerts examples/rules.yaml should raise for it,
 * so a replay's alerts can be scored against the labels. A control case (calls the rules must
 * NOT flag) and a handful of broken records (which must come out as rejects) go along.
 *
 * Cases fall on fixed local days of the generated span (day 0 is the first): the spend spike
 * needs the days before it as history, so it is skipped when fewer than 3 days are generated.
 */
import type { Rng } from './prng.js';
import { digits, intBetween, pick } from './prng.js';
import type { Account, Event } from './traffic.js';
import { NAMED, ZONE, localTime, voice, sms } from './traffic.js';
import type { RangeName } from './numbers.js';
import { RANGES, numberIn } from './numbers.js';

export interface Expectation { readonly rule: string, readonly key: string }

/**
 * One line of the labels file. `fraud` cases expect alerts, `control` cases expect none,
 * `reject` records expect a reject at `line` (1-based line of the traffic file); for the
 * other cases `line` is the line of the case's first record in the file.
 */
export interface Label {
  kind: 'fraud' | 'control' | 'reject';
  fraud: string;
  description: string;
  account?: string;
  /** the main alert key, for a quick look; `expect` lists every (rule, key) */
  key?: string;
  expect: Expectation[];
  /** first record of the case, ISO 8601 in Europe/Berlin */
  firstTs: string;
  records: number;
  line?: number;
}

const MINUTE = 60_000;

interface Ctx { rnd: Rng, startWall: number, days: number, out: Event[], labels: Label[] }

/** Local `HH:MM` of day `day` as UTC ms. */
function at (c: Ctx, day: number, hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return localTime(c.startWall, day, (h * 60 + m) * MINUTE);
}

/**
 * Adds a case: its label, and its records. Every record carries the label, so the writer
 * fills in `line` with the 1-based line of the first one written (records are written
 * roughly, not exactly, in time order): the load bench times detection from its arrival.
 */
function label (c: Ctx, l: Omit<Label, 'firstTs' | 'records'>, events: Event[]): void {
  const first = Math.min(...events.map((e) => e.ts));
  const full: Label = { ...l, firstTs: ZONE.toIso(first), records: events.length };
  for (const e of events) e.label = full;
  c.labels.push(full);
  c.out.push(...events);
}

function find (accounts: readonly Account[], ok: (a: Account) => boolean, what: string, taken: Set<string>): Account {
  const a = accounts.find((x) => !taken.has(x.id) && ok(x));
  if (a === undefined) throw new Error(`no account fits the ${what} case; generate more accounts`);
  taken.add(a.id);
  return a;
}

export function injectFrauds (rnd: Rng, accounts: readonly Account[], startWall: number, days: number, out: Event[]): Label[] {
  const c: Ctx = { rnd, startWall, days, out, labels: [] };
  const day = (d: number): number => Math.min(d, days - 1);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const taken = new Set<string>(Object.values(NAMED).flat());
  const ownTrunk = (a: Account): boolean => a.trunk?.startsWith('sip-') === true;

  // 1. Customer 1234 calls Somalia, Thailand and Nigeria on a Saturday: over EUR 10 to those
  //    countries within the first calls, over EUR 100 in total by the afternoon.
  {
    const a = byId.get(NAMED.spedition) as Account;
    const events: Event[] = [];
    const dest: RangeName[] = ['so', 'th', 'ng'];
    for (let i = 0; i < 36; i++) {
      const ts = at(c, day(1), '10:12') + i * 8 * MINUTE + intBetween(rnd, 0, 60_000);
      events.push(voice(rnd, a, pick(rnd, a.subs), ts, numberIn(rnd, RANGES[dest[i % 3] as RangeName]), { answered: true, duration: intBetween(rnd, 360, 1500) }));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'spend-1234',
      description: 'customer 1234 runs up calls to SO/TH/NG',
      account: a.id,
      key: a.id,
      expect: [{ rule: 'spend-1234-risky-day', key: a.id }, { rule: 'spend-1234-day', key: a.id }],
    }, events);
  }

  // 2. A hacked PBX: at 01:10 on Saturday the attacker fires 45 test calls in a minute over
  //    the customer's SIP trunk, then keeps ~30 lines busy to high-risk countries for hours.
  {
    const a = find(accounts, (x) => x.kind === 'business' && ownTrunk(x) && x.daily >= 20 && x.daily <= 60, 'pbx-hacking', taken);
    const events: Event[] = [];
    const dest: RangeName[] = ['so', 'ng', 'th', 'cu', 'so', 'ng'];
    const t0 = at(c, day(1), '01:10');
    for (let i = 0; i < 45; i++) {
      const answered = rnd() < 0.4;
      events.push(voice(rnd, a, pick(rnd, a.subs), t0 + i * 1300, numberIn(rnd, RANGES[pick(rnd, dest)]), { answered, duration: answered ? intBetween(rnd, 600, 2400) : 0 }));
    }
    for (let i = 0; i < 160; i++) {
      const answered = rnd() < 0.8;
      events.push(voice(rnd, a, pick(rnd, a.subs), t0 + 5 * MINUTE + i * MINUTE, numberIn(rnd, RANGES[pick(rnd, dest)]), { answered, duration: answered ? intBetween(rnd, 1200, 3600) : 0 }));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'pbx-hacking',
      description: 'hacked PBX calls high-risk countries at night',
      account: a.id,
      key: a.id,
      expect: [
        { rule: 'pbx-night-high-risk', key: a.id }, { rule: 'concurrent-calls', key: a.id },
        { rule: 'trunk-intl-surge', key: a.trunk as string }, { rule: 'spend-day', key: a.id },
      ],
    }, events);
  }

  // 3. Wangiri from a hijacked prepaid SIM (the quietest consumer): 400 distinct numbers rung
  //    for 0-2 s in 40 minutes.
  {
    const a = find([...accounts].sort((x, y) => x.daily - y.daily), (x) => x.kind === 'consumer', 'wangiri', taken);
    const sub = a.subs[0] as (typeof a.subs)[number];
    const events: Event[] = [];
    const seen = new Set<string>();
    const t0 = at(c, day(1), '19:05');
    for (let i = 0; events.length < 400; i++) {
      const called = numberIn(rnd, rnd() < 0.85 ? RANGES.deMobile : RANGES.deMobile7);
      if (seen.has(called)) continue;
      seen.add(called);
      const picked = rnd() < 0.3;
      events.push(voice(rnd, a, sub, t0 + events.length * 6000, called, { answered: picked, duration: picked ? intBetween(rnd, 1, 2) : 0 }));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'wangiri',
      description: 'one SIM rings hundreds of numbers for a second each',
      account: a.id,
      key: sub.caller,
      expect: [{ rule: 'ring-and-hang', key: sub.caller }, { rule: 'fanout-hour', key: sub.caller }, { rule: 'short-calls', key: a.id }],
    }, events);
  }

  // 4. IRSF through hijacked SIP extensions: four extensions of a small business call
  //    hotlisted satellite and premium ranges for half an hour each, Sunday night.
  {
    const a = find(accounts, (x) => x.kind === 'business' && ownTrunk(x) && x.subs.length >= 1 && x.daily >= 8 && x.daily <= 20, 'irsf', taken);
    const subs = [0, 1, 2, 3].map((i) => ({ id: `${a.id}-h${i}`, caller: `${(a.subs[0] as { caller: string }).caller.slice(0, -3)}9${i}${digits(rnd, 1)}` }));
    const events: Event[] = [];
    const dest: RangeName[] = ['iridium', 'thuraya', 'intlNet', 'cuPremium', 'nauru'];
    const t0 = at(c, day(2), '02:10');
    for (let i = 0; i < 40; i++) {
      events.push(voice(rnd, a, subs[i % 4] as (typeof subs)[number], t0 + i * 4 * MINUTE + intBetween(rnd, 0, 90_000), numberIn(rnd, RANGES[pick(rnd, dest)]), { answered: true, duration: intBetween(rnd, 900, 2700) }));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'irsf',
      description: 'hijacked extensions call hotlisted IRSF ranges',
      account: a.id,
      key: (subs[0] as { caller: string }).caller,
      expect: [...subs.map((s) => ({ rule: 'irsf-hotlist', key: s.caller })), { rule: 'expensive-calls-day', key: a.id }, { rule: 'spend-day', key: a.id }],
    }, events);
  }

  // 5. SMS pumping: bots request OTPs through an aggregator, all to one Nigerian 1000-number range.
  {
    const a = byId.get(NAMED.a2p[0]) as Account;
    const range = '+2348031234';
    const events: Event[] = [];
    const t0 = at(c, day(1), '14:00');
    for (let i = 0; i < 300; i++) {
      events.push(sms(rnd, a, a.subs[0] as (typeof a.subs)[number], t0 + i * 11_000 + intBetween(rnd, 0, 5000), range + digits(rnd, 3)));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'sms-pumping',
      description: 'OTP flood to one number range',
      account: a.id,
      key: range,
      expect: [{ rule: 'sms-pumping', key: range }],
    }, events);
  }

  // 6. A burst of 1-5 s answered calls from a business's extensions (an auto-dialler run,
  //    or someone testing stolen routes): Friday late morning.
  {
    const a = find(accounts, (x) => x.kind === 'business' && x.subs.length >= 8 && x.daily < 600, 'short-calls', taken);
    const events: Event[] = [];
    const t0 = at(c, day(0), '11:00');
    for (let i = 0; i < 260; i++) {
      const sub = a.subs[i % Math.min(13, a.subs.length)] as (typeof a.subs)[number];
      events.push(voice(rnd, a, sub, t0 + i * 11_500, numberIn(rnd, RANGES.deMobile), { answered: true, duration: intBetween(rnd, 1, 5) }));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'short-calls',
      description: 'burst of very short answered calls',
      account: a.id,
      key: a.id,
      expect: [{ rule: 'short-calls', key: a.id }],
    }, events);
  }

  // 7. Spend spike: a small business with a few euros a day spends ~EUR 140 on Sunday,
  //    spread over five countries so that no single-country or daily cap sees it.
  if (days >= 3) {
    const a = find(accounts, (x) => x.kind === 'business' && ownTrunk(x) && x.daily >= 8 && x.daily <= 20, 'spend-spike', taken);
    const events: Event[] = [];
    const dest: RangeName[] = ['tr', 'ru', 'ua', 'rs', 'in'];
    const t0 = at(c, day(2), '09:00');
    for (let i = 0; i < 55; i++) {
      events.push(voice(rnd, a, pick(rnd, a.subs), t0 + i * 10 * MINUTE, numberIn(rnd, RANGES[dest[i % 5] as RangeName]), { answered: true, duration: intBetween(rnd, 480, 960) }));
    }
    label(c, {
      kind: 'fraud',
      fraud: 'spend-spike',
      description: 'spend far above the account\'s own history',
      account: a.id,
      key: a.id,
      expect: [{ rule: 'spend-vs-baseline', key: a.id }],
    }, events);
  }

  // 8. Account takeover: a consumer's subscription (a SIM swap, or cloned credentials) is used
  //    from Nigeria on Saturday afternoon, after its owner used it at home the day before,
  //    for a run of calls to premium and high-risk ranges from a new handset.
  {
    const a = find(accounts, (x) => x.kind === 'consumer' && x.roaming === undefined && x.daily >= 10 && x.subs[0]?.device !== undefined, 'account-takeover', taken);
    const sub = a.subs[0] as (typeof a.subs)[number];
    const stolen = { ...sub, device: '35' + digits(rnd, 13) };
    const events: Event[] = [];
    const dest: RangeName[] = ['ng', 'so', 'cu', 'th'];
    const t0 = at(c, day(1), '15:20');
    for (let i = 0; i < 30; i++) {
      const e = voice(rnd, a, stolen, t0 + i * 3 * MINUTE + intBetween(rnd, 0, 60_000), numberIn(rnd, RANGES[dest[i % 4] as RangeName]), { answered: true, duration: intBetween(rnd, 300, 1200) });
      (e.rec as Record<string, unknown>).origin = 'NG';
      events.push(e);
    }
    label(c, {
      kind: 'fraud',
      fraud: 'account-takeover',
      description: 'a subscription used from a new origin country on a new handset',
      account: a.id,
      key: sub.id,
      expect: [{ rule: 'new-origin-week', key: sub.id }],
    }, events);
  }

  // Control: Reederei Nord's whitelisted bridge lines call the fleet's Iridium phones daily.
  {
    const a = byId.get(NAMED.shipping) as Account;
    const events: Event[] = [];
    const ships = Array.from({ length: 5 }, () => numberIn(rnd, RANGES.iridium));
    for (let d = 0; d < days; d++) {
      for (let i = 0; i < 2; i++) {
        const ts = at(c, d, '10:00') + intBetween(rnd, 0, 6 * 60) * MINUTE;
        events.push(voice(rnd, a, a.subs[i] as (typeof a.subs)[number], ts, pick(rnd, ships), { answered: true, duration: intBetween(rnd, 180, 540) }));
      }
    }
    label(c, {
      kind: 'control',
      fraud: 'vip-satellite',
      description: 'whitelisted callers dial hotlisted satellite ranges: no irsf-hotlist alert',
      account: a.id,
      expect: a.subs.map((s) => ({ rule: 'irsf-hotlist', key: s.caller })),
    }, events);
  }
  return c.labels;
}

/**
 * Records a switch or mediation really produces now and then, each of which must come out as
 * a reject with its reason. Placed at fixed fractions of the span; `line` is filled in when
 * the traffic is written.
 */
export function injectBadRecords (rnd: Rng, startWall: number, days: number, out: Event[], labels: Label[]): void {
  const span = days * 24 * 60 * MINUTE;
  const t = (f: number): number => localTime(startWall, 0, Math.floor(span * f));
  const cdr = (): Record<string, unknown> => ({ account: String(intBetween(rnd, 1100, 1199)), caller: '+4930' + digits(rnd, 8), called: '0' + '151' + digits(rnd, 8), service: 'voice', duration: 42, cost: 0.02 });
  const bad: Array<[number, string, (ts: number) => Event]> = [
    [0.05, 'missing account', (ts) => { const r = cdr(); delete r.account; return { ts, rec: r }; }],
    [0.15, 'negative duration', (ts) => ({ ts, rec: { ...cdr(), duration: -12 } })],
    [0.25, 'broken JSON (line cut off mid-write)', (ts) => ({ ts, rec: `{"id":"cdr-trunc","ts":${ts},"account":"1402","caller":"+4930${digits(rnd, 8)}","called":"0301` })],
    [0.35, 'ts is not a time (German date format)', (ts) => ({ ts, rec: { ...cdr(), ts: '20.11.2026 14:02' } })],
    [0.45, 'unknown service', (ts) => ({ ts, rec: { ...cdr(), service: 'fax' } })],
    [0.55, 'negative cost', (ts) => ({ ts, rec: { ...cdr(), cost: -0.5 } })],
    [0.65, 'voice record without called', (ts) => { const r = cdr(); delete r.called; return { ts, rec: r }; }],
    [0.75, 'duration is text', (ts) => ({ ts, rec: { ...cdr(), duration: '42s' } })],
    // Written in order at 85 % of the span, but its own ts is 3 hours older: a mediation
    // catch-up after the window closed. Rejected as late.
    [0.85, 'late: 3 hours behind the stream', (ts) => ({ ts, rec: { ...cdr(), ts: ts - 3 * 60 * MINUTE } })],
  ];
  for (const [f, reason, make] of bad) {
    const e = make(t(f));
    const ts = typeof e.rec === 'object' && typeof e.rec.ts === 'number' ? e.rec.ts : e.ts;
    const l: Label = { kind: 'reject', fraud: 'bad-record', description: reason, expect: [], firstTs: ZONE.toIso(ts), records: 1 };
    e.label = l;
    labels.push(l);
    out.push(e);
  }
}
