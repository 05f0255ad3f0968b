/**
 * core/prefix-set.ts: hand-written cases for the contract, then seeded random sets checked
 * against a reference that is obviously right: for small sets a scan over every prefix, for a
 * million ranges a Map of the prefixes probed at every length of the looked-up string (a scan of
 * a million prefixes per lookup would take minutes), plus a true scan for a handful of lookups.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PrefixSet } from '../../core/prefix-set.js';
import { type Rng, digits, intBetween, mulberry32 } from '../helpers/prng.js';

/** The longest prefix of `s` by a scan over all of them; ties go to the first inserted. */
function scan (prefixes: readonly string[], s: string): number {
  let best = -1;
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    if (s.startsWith(p) && (best < 0 || p.length > prefixes[best]!.length)) best = i;
  }
  return best;
}

const contract = suite('core/prefix-set: contract');

contract('longest returns the insertion index of the longest matching prefix', () => {
  const prefixes = ['+25', '+2526', '+252', '+2', '44', '+'];
  const set = new PrefixSet(prefixes);
  const rows: ReadonlyArray<[string, number]> = [
    ['+25261234567', 1],
    ['+2527', 2],
    ['+252', 2],
    ['+2531', 0],
    ['+2', 3],
    ['+3', 5],
    ['+', 5],
    ['447700900123', 4],
    ['+447700900123', 5],
    ['4', -1],
    ['', -1],
    ['2526', -1],
  ];
  for (const [s, want] of rows) {
    assert.is(set.longest(s), want, `longest(${JSON.stringify(s)})`);
    assert.is(set.matches(s), want >= 0, `matches(${JSON.stringify(s)})`);
  }
});

contract('the empty prefix matches every string, the empty string included', () => {
  const set = new PrefixSet(['', '+49']);
  for (const s of ['', '+', '+4', 'abc', '\u{1F4DE}']) assert.is(set.longest(s), 0, JSON.stringify(s));
  assert.is(set.longest('+4930'), 1);
});

contract('an empty set matches nothing', () => {
  const set = new PrefixSet([]);
  assert.is(set.size, 0);
  for (const s of ['', '+', '123']) {
    assert.is(set.matches(s), false, JSON.stringify(s));
    assert.is(set.longest(s), -1, JSON.stringify(s));
  }
});

contract('a duplicate counts once and keeps its first index', () => {
  const set = new PrefixSet(['+44', '+1', '+44', 'x', 'x']);
  assert.is(set.size, 3);
  assert.is(set.longest('+447700'), 0);
  assert.is(set.longest('xy'), 3);
});

contract('prefixes with any characters work and compete with digit prefixes by length', () => {
  const prefixes = ['+25', '+25a', 'acct-', '#31#', 'é', '\u{1F4DE}', '+25ab9', '0', '0 '];
  const set = new PrefixSet(prefixes);
  assert.is(set.size, prefixes.length);
  const rows: ReadonlyArray<[string, number]> = [
    ['+25abc', 1],
    ['+25ab9', 6],
    ['+259', 0],
    ['+25', 0],
    ['acct-7', 2],
    ['acct', -1],
    ['#31#+4930', 3],
    ['été', 4],
    ['\u{1F4DE}call', 5],
    ['\u{1F4DF}', -1],
    ['0 30', 8],
    ['030', 7],
  ];
  for (const [s, want] of rows) assert.is(set.longest(s), want, `longest(${JSON.stringify(s)})`);
});

contract('any iterable builds the set', () => {
  function * ranges (): Generator<string> { yield '+1'; yield '+12'; }
  assert.is(new PrefixSet(ranges()).longest('+123'), 1);
  assert.is(new PrefixSet(new Set(['7', '78'])).longest('789'), 1);
});

const random = suite('core/prefix-set: seeded random sets');

/** A string over a small alphabet so that prefixes collide often; mostly digits, as in use. */
function randomText (rnd: Rng, maxLength: number): string {
  const rare = ['+', 'a', '#', 'é', '9'];
  let s = '';
  const length = intBetween(rnd, 0, maxLength);
  for (let i = 0; i < length; i++) s += rnd() < 0.85 ? String(intBetween(rnd, 0, 3)) : rare[intBetween(rnd, 0, rare.length - 1)]!;
  return s;
}

random('small and medium sets agree with a scan over every prefix', () => {
  // Sizes past 100 and 1000 make the set build its direct index (for '+' and bare digits).
  for (let seed = 1; seed <= 120; seed++) {
    const rnd = mulberry32(seed);
    const n = seed % 4 === 0 ? intBetween(rnd, 100, 3000) : intBetween(rnd, 0, 60);
    const prefixes = Array.from({ length: n }, () => (rnd() < 0.5 ? '+' : '') + randomText(rnd, 7));
    const set = new PrefixSet(prefixes);
    assert.is(set.size, new Set(prefixes).size, `seed ${seed}: size`);
    for (let k = 0; k < 200; k++) {
      const s = (rnd() < 0.5 ? '+' : '') + randomText(rnd, 11);
      const want = scan(prefixes, s);
      if (set.longest(s) !== want) assert.is(set.longest(s), want, `seed ${seed}: longest(${JSON.stringify(s)})`);
      if (set.matches(s) !== (want >= 0)) assert.is(set.matches(s), want >= 0, `seed ${seed}: matches(${JSON.stringify(s)})`);
    }
  }
});

random('a million number ranges agree with the reference on 10k lookups', () => {
  const rnd = mulberry32(2026);
  const prefixes: string[] = [];
  for (let i = 0; i < 1_000_000; i++) prefixes.push((rnd() < 0.5 ? '+' : '') + digits(rnd, intBetween(rnd, 6, 12)));
  const set = new PrefixSet(prefixes);
  const first = new Map<string, number>();
  prefixes.forEach((p, i) => { if (!first.has(p)) first.set(p, i); });
  assert.is(set.size, first.size);
  const reference = (s: string): number => {
    for (let length = s.length; length >= 0; length--) {
      const hit = first.get(s.slice(0, length));
      if (hit !== undefined) return hit;
    }
    return -1;
  };
  const lookups: string[] = [];
  for (let k = 0; k < 10_000; k++) {
    const kind = k % 3;
    if (kind === 0) lookups.push(prefixes[intBetween(rnd, 0, prefixes.length - 1)]! + digits(rnd, intBetween(rnd, 0, 6)));
    else lookups.push((kind === 1 ? '+' : '') + digits(rnd, intBetween(rnd, 0, 15)));
  }
  let hits = 0;
  for (const s of lookups) {
    const want = reference(s);
    if (want >= 0) hits++;
    if (set.longest(s) !== want) assert.is(set.longest(s), want, `longest(${s})`);
    if (set.matches(s) !== (want >= 0)) assert.is(set.matches(s), want >= 0, `matches(${s})`);
  }
  assert.ok(hits > 3000 && hits < 9000, `the sample has both hits and misses (${hits} hits)`);
  for (const s of lookups.slice(0, 15)) assert.is(set.longest(s), scan(prefixes, s), `scan for ${s}`);
});

contract.run();
random.run();
