// Golden vectors for the FNV-1a hashes (the published ones from the FNV reference, plus
// non-ASCII strings checked against a BigInt reference over TextEncoder's bytes) and the
// contracts of shardOf and stableId.
// Run: npx tsc -p tsconfig.json && node dist/test/core/hash.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fnv1a32, fnv1a64Hex, shardOf, stableId } from '../../core/hash.js';
import { mulberry32 } from '../helpers/prng.js';

/** Straight from the definition, over TextEncoder's UTF-8: the independent reference. */
function reference64 (s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

function reference32 (s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** Strings over the whole UTF-16 range, lone surrogates included. */
function randomStrings (count: number): string[] {
  const rnd = mulberry32(7);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = Math.floor(rnd() * 24);
    for (let j = 0; j < n; j++) {
      const r = rnd();
      s += r < 0.4 ? String.fromCharCode(32 + Math.floor(rnd() * 95)) : String.fromCharCode(Math.floor(rnd() * 0x10000));
    }
    out.push(s);
  }
  return out;
}

const fnv32 = suite('core/hash: fnv1a32');

fnv32('matches the published FNV-1a 32 vectors', () => {
  assert.is(fnv1a32(''), 0x811c9dc5);
  assert.is(fnv1a32('a'), 0xe40c292c);
  assert.is(fnv1a32('foobar'), 0xbf9cf968);
});

fnv32('hashes the UTF-8 bytes of non-ASCII text (2, 3 and 4 byte sequences)', () => {
  assert.is(fnv1a32('Grüße'), 0xb8226e38);
  assert.is(fnv1a32('日本語'), 0x805f5ce7);
  assert.is(fnv1a32('😀'), 0x33a29608);
});

fnv32('agrees with the definition over TextEncoder on random strings, lone surrogates as U+FFFD', () => {
  for (const s of [...randomStrings(2000), '\ud800', 'a\udc00b', '\udbff\udfff', 'x'.repeat(5000)]) {
    assert.is(fnv1a32(s), reference32(s), JSON.stringify(s));
  }
});

fnv32.run();

const fnv64 = suite('core/hash: fnv1a64Hex');

fnv64('matches the published FNV-1a 64 vectors', () => {
  assert.is(fnv1a64Hex(''), 'cbf29ce484222325');
  assert.is(fnv1a64Hex('a'), 'af63dc4c8601ec8c');
  assert.is(fnv1a64Hex('foobar'), '85944171f73967e8');
});

fnv64('hashes the UTF-8 bytes of non-ASCII text', () => {
  assert.is(fnv1a64Hex('Grüße'), '20e72e11e324b0b8');
  assert.is(fnv1a64Hex('日本語'), 'ee9ee2b5c854ef87');
  assert.is(fnv1a64Hex('😀'), 'feff073875020288');
});

fnv64('agrees with a BigInt implementation of the definition on random strings', () => {
  for (const s of [...randomStrings(2000), '\ud800', 'a\udc00b', 'x'.repeat(5000)]) {
    assert.is(fnv1a64Hex(s), reference64(s), JSON.stringify(s));
  }
});

fnv64.run();

const shard = suite('core/hash: shardOf');

shard('is fnv1a32 modulo the shard count, so a key never moves between runs', () => {
  assert.is(shardOf('foobar', 16), 0xbf9cf968 % 16);
  assert.is(shardOf('acct-42', 1), 0);
  for (const key of ['a', 'acct-1', 'Grüße', '']) assert.is(shardOf(key, 7), fnv1a32(key) % 7);
});

shard('spreads keys over every shard', () => {
  const counts = new Array<number>(8).fill(0);
  for (let i = 0; i < 8000; i++) counts[shardOf(`acct-${i}`, 8)]! += 1;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven: ${counts.join(',')}`);
});

shard('refuses a shard count that is not a positive integer', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => shardOf('a', bad), (err: Error) => err instanceof RangeError && err.message === `shards must be a positive integer, got ${bad}`);
  }
});

shard.run();

const ids = suite('core/hash: stableId');

ids('is 16 lowercase hex digits, the FNV-1a 64 of the text', () => {
  assert.is(stableId('foobar'), '85944171f73967e8');
  assert.match(stableId('["v1",1782900000000,"A1"]'), /^[0-9a-f]{16}$/);
});

ids('differs for texts that differ in one character', () => {
  assert.is.not(stableId('acct-1|+4930123'), stableId('acct-1|+4930124'));
});

ids.run();
