// MessagePack as other languages' encoders write it (Python's msgpack, Go's): the smallest
// form of each value, an integer past 32 bits as uint64/int64, and raw bytes where a test
// wants what no encoder of JS values writes (extensions, maps with odd keys). For the fuzz tests.
//   packForeign({ ts: 1782900000000 })  // 81 a2 74 73 cf 00 00 01 9f 1d 1f 05 00

/** Bytes to put into a MessagePack value as they are (an extension, a map with odd keys). */
export class RawPack {
  readonly bytes: Buffer;
  constructor (bytes: Buffer) { this.bytes = bytes; }
}

function head (small: number, max: number, codes: readonly number[], n: number): Buffer {
  if (n < max) return Buffer.from([small | n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = codes[0]!; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = codes[1]!; b.writeUInt32BE(n, 1); return b;
}

/**
 * `value` as MessagePack in the smallest form, as Python's msgpack and Go's encoders write it:
 * an integer past 32 bits as uint64/int64 (an epoch-ms ts always is one), other numbers as
 * float64, a Buffer as bin, a RawPack as its bytes.
 */
export function packForeign (value: unknown): Buffer {
  if (value instanceof RawPack) return value.bytes;
  if (value === null || value === undefined) return Buffer.from([0xc0]);
  if (value === true || value === false) return Buffer.from([value ? 0xc3 : 0xc2]);
  if (typeof value === 'bigint') { const b = Buffer.alloc(9); b[0] = value < 0n ? 0xd3 : 0xcf; if (value < 0n) b.writeBigInt64BE(value, 1); else b.writeBigUInt64BE(value, 1); return b; }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Object.is(value, -0) || Math.abs(value) >= 2 ** 63) { const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(value, 1); return b; }
    if (value >= 0 && value < 128) return Buffer.from([value]);
    if (value < 0 && value >= -32) return Buffer.from([value & 0xff]);
    if (value >= 0 && value < 2 ** 32) { const b = Buffer.alloc(5); b[0] = 0xce; b.writeUInt32BE(value, 1); return b; }
    if (value < 0 && value >= -(2 ** 31)) { const b = Buffer.alloc(5); b[0] = 0xd2; b.writeInt32BE(value, 1); return b; }
    return packForeign(BigInt(value));
  }
  if (typeof value === 'string') {
    const b = Buffer.from(value);
    const h = b.length < 32 ? Buffer.from([0xa0 | b.length]) : b.length < 256 ? Buffer.from([0xd9, b.length]) : head(0, 0, [0xda, 0xdb], b.length);
    return Buffer.concat([h, b]);
  }
  if (Buffer.isBuffer(value)) return Buffer.concat([head(0, 0, [0xc5, 0xc6], value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(0x90, 16, [0xdc, 0xdd], value.length), ...value.map(packForeign)]);
  const entries = Object.entries(value as Record<string, unknown>);
  return Buffer.concat([head(0x80, 16, [0xde, 0xdf], entries.length), ...entries.flatMap(([k, v]) => [packForeign(k), packForeign(v)])]);
}
