/**
 * Seeded PRNG for the traffic generator, the benches and the tests: the same seed must give
 * the same data on every machine, so never Math.random. mulberry32 by Tommy Ettinger, as
 * published in bryc's collection (https://github.com/bryc/code/blob/master/jshash/PRNGs.md#mulberry32):
 * 32-bit state, passes gjrand, period 2^32.
 */
export type Rng = () => number;

export function mulberry32 (seed: number): Rng {
  let a = seed | 0;
  return () => {
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max], both inclusive. */
export function intBetween (rnd: Rng, min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}

/** `length` random decimal digits. */
export function digits (rnd: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(48 + Math.floor(rnd() * 10));
  return s;
}

/** One element of a non-empty array. */
export function pick<T> (rnd: Rng, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)] as T;
}

/** A log-normal sample with the given median and spread (sigma of the underlying normal). */
export function logNormal (rnd: Rng, median: number, sigma: number): number {
  // Box-Muller; 1 - rnd() keeps the logarithm away from 0.
  const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return median * Math.exp(sigma * z);
}
