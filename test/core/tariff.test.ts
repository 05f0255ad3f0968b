/**
 * core/tariff.ts: the example tariff of rules.md, increments, and longest-prefix selection.
 * Expected costs are worked out by hand from the rates in each row.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Tariff, TariffRate } from '../../core/rules-config.js';
import type { Service } from '../../core/usage-record.js';
import { Rater, billedSeconds } from '../../core/tariff.js';

function rate (prefix: string, perMinute: number, perSms: number, extra: Partial<TariffRate> = {}): TariffRate {
  return { prefix, perMinute, perSms, connect: 0, first: 1, next: 1, ...extra };
}

/** rules.md's example: `+252` with a connect charge and "60/1", `+44`, and the default `""`. */
const EXAMPLE: Tariff = {
  currency: 'EUR',
  rates: [
    rate('+252', 1.20, 0.30, { connect: 0.10, first: 60, next: 1 }),
    rate('+44', 0.02, 0.01),
    rate('', 0.05, 0.02),
  ],
};

type Row = readonly [why: string, called: string | undefined, service: Service, duration: number, answered: boolean, cost: number | undefined];

function check (tariff: Tariff, rows: readonly Row[]): void {
  const rater = new Rater(tariff);
  for (const [why, called, service, duration, answered, cost] of rows) {
    assert.is(rater.rate(called, service, duration, answered), cost, why);
  }
}

const example = suite('core/tariff: the example tariff');

example('voice to +252 pays the connect charge and bills the first minute whole', () => {
  check(EXAMPLE, [
    ['1 s: connect + a whole minute', '+2521234567', 'voice', 1, true, 1.30],
    ['half a second is a started second', '+2521234567', 'voice', 0.5, true, 1.30],
    ['60 s: connect + a minute', '+2521234567', 'voice', 60, true, 1.30],
    ['61 s: connect + 61/60 minutes', '+2521234567', 'voice', 61, true, 1.32],
    ['60.2 s: the started 61st second is billed', '+2521234567', 'voice', 60.2, true, 1.32],
    ['120 s: connect + two minutes', '+2521234567', 'voice', 120, true, 2.50],
    ['3599 s', '+2521234567', 'voice', 3599, true, 72.08],
  ]);
});

example('an unanswered or 0-second call costs nothing, connect included', () => {
  check(EXAMPLE, [
    ['unanswered, with a duration', '+2521234567', 'voice', 30, false, 0],
    ['unanswered, 0 s', '+2521234567', 'voice', 0, false, 0],
    ['answered, 0 s', '+2521234567', 'voice', 0, true, 0],
  ]);
});

example('sms pays per_sms per record, whatever its duration', () => {
  check(EXAMPLE, [
    ['+44', '+447700900123', 'sms', 0, true, 0.01],
    ['+252', '+2521234567', 'sms', 0, false, 0.30],
    ['the default rate', '+4930123456', 'sms', 0, true, 0.02],
  ]);
});

example('the default "" rate prices every other destination, per second by default', () => {
  check(EXAMPLE, [
    ['+44 for 90 s', '+447700900123', 'voice', 90, true, 0.03],
    ['+49 for 61 s: 61/60 * 0.05, rounded to 1e-6', '+4930123456', 'voice', 61, true, 0.050833],
    ['1.5 s bills 2 s', '+4930123456', 'voice', 1.5, true, 0.001667],
    ['a number without + falls to the default', '2521234567', 'voice', 60, true, 0.05],
    ['any text falls to the default', 'anonymous', 'sms', 0, true, 0.02],
  ]);
});

example('data and records without a called number are not rated', () => {
  check(EXAMPLE, [
    ['data', '+2521234567', 'data', 600, true, undefined],
    ['voice without called', undefined, 'voice', 60, true, undefined],
    ['sms without called', undefined, 'sms', 0, true, undefined],
  ]);
});

example('costs carry no binary noise', () => {
  // Unrounded, 90 s at 0.02 a minute is 0.030000000000000002 and 96 s at 0.60 plus 0.05 connect
  // is 1.0099999999999998.
  assert.is.not(90 * 0.02 / 60, 0.03);
  assert.is.not(0.05 + 96 * 0.60 / 60, 1.01);
  assert.is(new Rater(EXAMPLE).rate('+44', 'voice', 90, true), 0.03);
  const rater = new Rater({ rates: [rate('+1', 0.60, 0.05, { connect: 0.05, first: 30, next: 6 })] });
  assert.is(rater.rate('+1', 'voice', 95, true), 1.01);
});

const selection = suite('core/tariff: rate selection');

selection('the longest matching prefix wins, wherever it is listed', () => {
  const tariff: Tariff = {
    rates: [
      rate('+2526', 6, 0.6),
      rate('+25', 2, 0.2),
      rate('+25261', 61, 6.1),
      rate('+252', 5, 0.5),
    ],
  };
  check(tariff, [
    ['+25261...', '+252611234', 'voice', 60, true, 61],
    ['+2526...', '+25262', 'voice', 60, true, 6],
    ['+252...', '+2527', 'voice', 60, true, 5],
    ['+25...', '+2531', 'voice', 60, true, 2],
    ['exactly +25', '+25', 'sms', 0, true, 0.2],
  ]);
});

selection('without a default rate an unmatched number is not rated', () => {
  check({ rates: [rate('+252', 1.2, 0.3)] }, [
    ['+44 voice', '+447700900123', 'voice', 60, true, undefined],
    ['+44 sms', '+447700900123', 'sms', 0, true, undefined],
    ['a shorter number than the prefix', '+25', 'voice', 60, true, undefined],
    ['+252 still rated', '+2521', 'voice', 60, true, 1.2],
  ]);
});

selection('an empty tariff rates nothing', () => {
  check({ rates: [] }, [['anything', '+2521', 'voice', 60, true, undefined]]);
});

const increments = suite('core/tariff: billing increments');

increments('billedSeconds bills the first block whole, then every started step', () => {
  const rows: ReadonlyArray<readonly [duration: number, first: number, next: number, billed: number]> = [
    [0, 60, 1, 0],
    [-5, 60, 1, 0],
    [Number.NaN, 60, 1, 0],
    [1, 60, 1, 60],
    [60, 60, 1, 60],
    [60.001, 60, 1, 61],
    [61, 60, 1, 61],
    [1, 30, 6, 30],
    [30, 30, 6, 30],
    [30.5, 30, 6, 36],
    [31, 30, 6, 36],
    [36, 30, 6, 36],
    [37, 30, 6, 42],
    [95, 30, 6, 96],
    [0.2, 1, 1, 1],
    [1, 1, 1, 1],
    [1.01, 1, 1, 2],
    [59, 60, 60, 60],
    [61, 60, 60, 120],
  ];
  for (const [duration, first, next, billed] of rows) {
    assert.is(billedSeconds(duration, first, next), billed, `${duration} s at "${first}/${next}"`);
  }
});

increments('"30/6" prices a call in six-second steps after half a minute', () => {
  const tariff: Tariff = { rates: [rate('+1', 0.60, 0.05, { connect: 0.05, first: 30, next: 6 })] };
  check(tariff, [
    ['1 s: connect + 30 s', '+12125550100', 'voice', 1, true, 0.35],
    ['30 s', '+12125550100', 'voice', 30, true, 0.35],
    ['31 s bills 36 s', '+12125550100', 'voice', 31, true, 0.41],
    ['37 s bills 42 s', '+12125550100', 'voice', 37, true, 0.47],
    ['95 s bills 96 s', '+12125550100', 'voice', 95, true, 1.01],
    ['unanswered', '+12125550100', 'voice', 95, false, 0],
  ]);
});

example.run();
selection.run();
increments.run();
