/**
 * Telephone numbers and prices for the traffic generator: number ranges per destination
 * (each a range libphonenumber accepts as valid, so that ingest derives its country), the
 * way a German switch writes a B-number, and the list prices of examples/rules.yaml's tariff
 * (mediation rates most records at those prices; the rest arrive without a cost).
 */
import type { Rng } from './prng.js';
import { digits, pick } from './prng.js';

/** A block of numbers: one of `prefixes` (E.164 with +) followed by `rest` random digits. */
export interface Range { readonly country: string, readonly prefixes: readonly string[], readonly rest: number }

export const RANGES = {
  deMobile: { country: 'DE', prefixes: ['+49151', '+49152', '+49157', '+49159', '+49176', '+49177', '+49178', '+49179'], rest: 8 },
  deMobile7: { country: 'DE', prefixes: ['+49160', '+49170', '+49171', '+49175'], rest: 7 },
  deBerlin: { country: 'DE', prefixes: ['+4930'], rest: 8 },
  deFixed: { country: 'DE', prefixes: ['+4940', '+4989', '+4969', '+49221', '+49211', '+49711', '+49341'], rest: 7 },
  dePremium: { country: 'DE', prefixes: ['+499001', '+499005'], rest: 6 },
  at: { country: 'AT', prefixes: ['+43664', '+43676', '+43699'], rest: 7 },
  ch: { country: 'CH', prefixes: ['+4179', '+4178', '+4144'], rest: 7 },
  pl: { country: 'PL', prefixes: ['+48601', '+48501', '+48790'], rest: 6 },
  tr: { country: 'TR', prefixes: ['+90532', '+90542', '+90555'], rest: 7 },
  it: { country: 'IT', prefixes: ['+39347', '+39333', '+39320'], rest: 7 },
  fr: { country: 'FR', prefixes: ['+336', '+337'], rest: 8 },
  es: { country: 'ES', prefixes: ['+346'], rest: 8 },
  gb: { country: 'GB', prefixes: ['+447400', '+447700', '+447900'], rest: 6 },
  us: { country: 'US', prefixes: ['+1646', '+1212', '+1415'], rest: 7 },
  nl: { country: 'NL', prefixes: ['+316'], rest: 8 },
  ro: { country: 'RO', prefixes: ['+4072', '+4074'], rest: 7 },
  hr: { country: 'HR', prefixes: ['+38591', '+38598'], rest: 7 },
  ru: { country: 'RU', prefixes: ['+7916', '+7926'], rest: 7 },
  ua: { country: 'UA', prefixes: ['+38067', '+38050'], rest: 7 },
  rs: { country: 'RS', prefixes: ['+38164', '+38163'], rest: 7 },
  in: { country: 'IN', prefixes: ['+9198', '+9199'], rest: 8 },
  ph: { country: 'PH', prefixes: ['+63917', '+63918'], rest: 7 },
  vn: { country: 'VN', prefixes: ['+8491', '+8498'], rest: 7 },
  ng: { country: 'NG', prefixes: ['+234803', '+234806'], rest: 7 },
  th: { country: 'TH', prefixes: ['+6681', '+6689'], rest: 7 },
  so: { country: 'SO', prefixes: ['+25261'], rest: 7 },
  // Havana fixed lines; Cuban mobile ranges (+535x) are on the IRSF hotlist.
  cu: { country: 'CU', prefixes: ['+537'], rest: 7 },
  // Hotlisted (examples/irsf-ranges.txt): satellite, international networks, premium ranges.
  iridium: { country: '', prefixes: ['+8816'], rest: 8 },
  thuraya: { country: '', prefixes: ['+88216'], rest: 6 },
  intlNet: { country: '', prefixes: ['+88235'], rest: 8 },
  soPremium: { country: 'SO', prefixes: ['+252904'], rest: 6 },
  cuPremium: { country: 'CU', prefixes: ['+5351', '+5352'], rest: 6 },
  nauru: { country: 'NR', prefixes: ['+674777'], rest: 4 },
} as const satisfies Record<string, Range>;

export type RangeName = keyof typeof RANGES;

export function numberIn (rnd: Rng, range: Range): string {
  return pick(rnd, range.prefixes) + digits(rnd, range.rest);
}

/** A weighted choice among ranges. */
export type Mix = ReadonlyArray<readonly [RangeName, number]>;

export function pickRange (rnd: Rng, mix: Mix): Range {
  let total = 0;
  for (const [, w] of mix) total += w;
  let x = rnd() * total;
  for (const [name, w] of mix) {
    x -= w;
    if (x < 0) return RANGES[name];
  }
  return RANGES[(mix[mix.length - 1] as readonly [RangeName, number])[0]];
}

/**
 * The B-number as a German switch writes it: national format (`030…`, `0151…`) for most
 * domestic calls, sometimes `0049…` or `+49…`; international calls mostly with the `00`
 * international prefix, sometimes already in E.164. Ingest normalizes all of them.
 */
export function switchFormat (rnd: Rng, e164: string): string {
  const x = rnd();
  if (e164.startsWith('+49')) {
    if (x < 0.6) return '0' + e164.slice(3);
    if (x < 0.75) return '00' + e164.slice(1);
    return e164;
  }
  return x < 0.7 ? '00' + e164.slice(1) : e164;
}

interface Price { readonly prefix: string, readonly perMinute: number, readonly perSms: number, readonly connect: number, readonly first: number, readonly next: number }

function p (prefix: string, perMinute: number, perSms: number, connect = 0, increment = '1/1'): Price {
  const [first, next] = increment.split('/').map(Number) as [number, number];
  return { prefix, perMinute, perSms, connect, first, next };
}

// The tariff of examples/rules.yaml, longest prefix first. Keep the two in step.
const PRICES: readonly Price[] = [
  p('+8816', 6.90, 0.99, 0.50, '30/6'), p('+882', 5.90, 0.99, 0.50, '30/6'), p('+883', 5.90, 0.99, 0.50, '30/6'),
  p('+870', 7.90, 0.99, 0.50, '30/6'), p('+252', 1.20, 0.30, 0.10, '60/1'), p('+53', 1.10, 0.30, 0.10, '60/1'),
  p('+234', 0.45, 0.15, 0.05, '60/1'), p('+66', 0.25, 0.15, 0, '60/1'), p('+7', 0.35, 0.15, 0, '60/1'),
  p('+90', 0.19, 0.12, 0, '60/1'), p('+380', 0.19, 0.12, 0, '60/1'), p('+381', 0.19, 0.12, 0, '60/1'),
  p('+91', 0.15, 0.12, 0, '60/1'), p('+63', 0.25, 0.12, 0, '60/1'), p('+84', 0.22, 0.12, 0, '60/1'),
  p('+1', 0.04, 0.09), p('+44', 0.04, 0.09),
  p('+49900', 1.99, 0, 0.20, '60/1'), p('+4915', 0.019, 0.02), p('+4916', 0.019, 0.02), p('+4917', 0.019, 0.02),
  p('+49', 0.009, 0.02), p('+3', 0.05, 0.06), p('+4', 0.05, 0.06),
  p('', 0.60, 0.20, 0.05, '60/1'),
].sort((a, b) => b.prefix.length - a.prefix.length);

/** The list price of an event, rounded to 1/10000 EUR as mediation does. */
export function price (called: string, service: 'voice' | 'sms', duration: number, answered: boolean): number {
  const rate = PRICES.find((r) => called.startsWith(r.prefix)) as Price;
  if (service === 'sms') return rate.perSms;
  if (!answered || duration <= 0) return 0;
  const billed = duration <= rate.first ? rate.first : rate.first + Math.ceil((duration - rate.first) / rate.next) * rate.next;
  return Math.round((rate.connect + rate.perMinute * billed / 60) * 10_000) / 10_000;
}

/** Transit carriers we buy international routes from; domestic calls stay on our network. */
export function providerFor (rnd: Rng, called: string): string | undefined {
  if (called.startsWith('+49')) return undefined;
  return pick(rnd, ['bics', 'tata', 'ibasis', 'telia']);
}
