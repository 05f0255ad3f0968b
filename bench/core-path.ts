/**
 * The single-threaded core as the core benches time it (core.bench, risk.bench): per line,
 * JSON.parse, Ingest.prepare, Engine.advance and Engine.process, what one shard actor does per
 * record. One copy, so that risk.bench's case without novelty and risk rules is core.bench's
 * core case and their figures compare.
 */
import type { CompiledRules } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import { Ingest } from '../core/ingest.js';
import type { Alert } from '../core/alert.js';
import type { BenchCase } from './harness.js';
import { sink } from './harness.js';

/** A line's JSON, or undefined when it does not parse (the core would reject it). */
export function parseLine (line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Replays `lines` through the core of `compiled`, from a fresh engine every sample; with
 * `tally`, the alerts the last timed sample raised.
 */
export function coreCase (name: string, compiled: CompiledRules, lines: readonly string[], tally?: { alerts: number }): BenchCase {
  let ingest = new Ingest(compiled);
  let engine = new Engine(compiled, () => 0);
  const alerts: Alert[] = [];
  const replay = (n: number): number => {
    let accepted = 0;
    let raised = 0;
    for (let i = 0; i < n; i++) {
      const raw = parseLine(lines[i] as string);
      if (raw === undefined) continue;
      const p = ingest.prepare(raw, { source: 'bench', line: i + 1 });
      if (!p.ok) continue;
      engine.advance(ingest.watermark);
      engine.process(p.record, undefined, alerts);
      // Handed on per record, as an actor does: rules that alert on most records would
      // otherwise keep a whole sample's alerts alive.
      raised += alerts.length;
      alerts.length = 0;
      accepted++;
    }
    sink.value += accepted + raised;
    return raised;
  };
  return {
    name,
    setup: () => { ingest = new Ingest(compiled); engine = new Engine(compiled, () => 0); },
    run: () => {
      const raised = replay(lines.length);
      if (tally !== undefined) tally.alerts = raised;
      return lines.length;
    },
    // A sample takes seconds; a sixth of the stream is plenty for the JIT.
    warm: () => { replay(Math.ceil(lines.length / 6)); },
  };
}
