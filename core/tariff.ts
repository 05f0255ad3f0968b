/**
 * Rates records that arrive without `cost` (rules.md, `tariff`): the rate whose prefix is the
 * longest prefix of `called` wins, `""` being the default. Prefixes are plain text prefixes of
 * `called` as the record carries it, so "+252" matches E.164 numbers ("+2521234567") only; a
 * number that could not be normalized keeps no `+` and falls to a digit prefix or the default.
 */
import type { Tariff, TariffRate } from './rules-config.js';
import type { Service } from './usage-record.js';
import { PrefixSet } from './prefix-set.js';

/**
 * Seconds billed for a call of `duration` seconds under increment "first/next": the first
 * `first` seconds are billed whole, then every started `next` seconds ("60/1": a minute, then
 * per second; "30/6": half a minute, then six-second steps).
 */
export function billedSeconds (duration: number, first: number, next: number): number {
  if (!(duration > 0)) return 0;
  if (duration <= first) return first;
  return first + Math.ceil((duration - first) / next) * next;
}

/**
 * Costs are rounded to a millionth of the currency unit: products and sums of decimal rates
 * carry binary noise (90 s at 0.02 a minute is 0.030000000000000002) that would otherwise show
 * in alerts and tip `limit` comparisons at a round number. Every currency's minor unit is far coarser than 1e-6.
 */
function round (cost: number): number {
  return Math.round(cost * 1e6) / 1e6;
}

export class Rater {
  private readonly rates: readonly TariffRate[];
  private readonly prefixes: PrefixSet;

  constructor (tariff: Tariff) {
    this.rates = tariff.rates;
    this.prefixes = new PrefixSet(tariff.rates.map((r) => r.prefix));
  }

  /**
   * The cost of one record, or undefined when it is not rated: `data` (the tariff has no data
   * rate), no `called` number, or no rate whose prefix matches `called`.
   *
   * Voice: a call that was not answered, or lasted 0 s, costs 0 and no connect charge, since
   * `connect` is charged "once per answered call" and a 0-second answered call carried nothing.
   * Otherwise `connect + billedSeconds / 60 * perMinute`. SMS: `perSms` per record.
   */
  rate (called: string | undefined, service: Service, duration: number, answered: boolean): number | undefined {
    if (service === 'data' || called === undefined) return undefined;
    const rate = this.rates[this.prefixes.longest(called)];
    if (rate === undefined) return undefined;
    if (service === 'sms') return rate.perSms;
    if (!answered || !(duration > 0)) return 0;
    return round(rate.connect + billedSeconds(duration, rate.first, rate.next) * rate.perMinute / 60);
  }
}
