/**
 * Seeded PRNG for tests: inputs must be reproducible, so never Math.random. The one
 * implementation lives with the traffic generator (examples/prng.ts, mulberry32); tests use it
 * from here so that a test imports helpers, not examples.
 */
export { mulberry32, intBetween, digits, pick, type Rng } from '../../examples/prng.js';
