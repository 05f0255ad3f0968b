/**
 * Non-cryptographic hashes over the UTF-8 bytes of a string: FNV-1a 32 for shard routing and
 * FNV-1a 64 for derived record ids. FNV-1a as specified by Fowler, Noll and Vo
 * (http://www.isthe.com/chongo/tech/comp/fnv/, draft-eastlake-fnv): offset basis 0x811c9dc5 /
 * 0xcbf29ce484222325, prime 0x01000193 / 0x100000001b3. The 64-bit variant runs on four
 * 16-bit limbs so that it needs no BigInt (BigInt arithmetic allocates on every step).
 * Both are stable across runs, processes and machines: a shard or an id never moves.
 */

// One scratch buffer for the UTF-8 bytes; hashing never re-enters, so sharing it is safe.
let scratch = new Uint8Array(256);

/**
 * Writes the UTF-8 encoding of `s` into `scratch` and returns its length. A lone surrogate
 * becomes U+FFFD, as TextEncoder does, so a hash equals a hash of TextEncoder's output.
 */
function encodeUtf8 (s: string): number {
  // Worst case is 3 bytes per UTF-16 code unit.
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(s.length * 3, scratch.length * 2));
  const out = scratch;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 0x3f);
        out[n++] = 0x80 | ((c >> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
      } else {
        out[n++] = 0xef; out[n++] = 0xbf; out[n++] = 0xbd;
      }
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

/** FNV-1a 32 of the UTF-8 bytes of `s`, as an unsigned 32-bit integer. */
export function fnv1a32 (s: string): number {
  const n = encodeUtf8(s);
  const bytes = scratch;
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a 64 of the UTF-8 bytes of `s`, as 16 lowercase hex digits. */
export function fnv1a64Hex (s: string): string {
  const n = encodeUtf8(s);
  const bytes = scratch;
  // Limbs, least significant first.
  let h0 = 0x2325; let h1 = 0x8422; let h2 = 0x9ce4; let h3 = 0xcbf2;
  for (let i = 0; i < n; i++) {
    h0 ^= bytes[i] as number;
    // h * (2^40 + 0x1b3) mod 2^64: the 0x1b3 part limb by limb with carries, plus h << 40,
    // of which only h0 and the low byte of h1 land below bit 64. Every sum stays < 2^27.
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (t1 >>> 16) + (h0 << 8);
    const t3 = h3 * 0x1b3 + (t2 >>> 16) + (h1 << 8);
    h0 = t0 & 0xffff; h1 = t1 & 0xffff; h2 = t2 & 0xffff; h3 = t3 & 0xffff;
  }
  return hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
}

function hex4 (v: number): string {
  return (v | 0x10000).toString(16).slice(1);
}

/**
 * The shard (0 … shards-1) that owns `key`. Modulo bias is below 2^-20 for any shard count a
 * deployment uses, and moving to another scheme would move every account, so this stays.
 */
export function shardOf (key: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  return fnv1a32(key) % shards;
}

/**
 * A 16-hex-digit id for `text` (FNV-1a 64). Stable across runs, so reprocessing a file gives
 * every record the id it had before. Collisions become likely only past ~10^9 distinct texts.
 */
export function stableId (text: string): string {
  return fnv1a64Hex(text);
}
