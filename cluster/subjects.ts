/**
 * NATS subjects (interfaces.md), built here and nowhere else. The prefix is configurable so
 * that several deployments can share one NATS cluster.
 */
export interface Subjects {
  readonly in: string;
  readonly alerts: string;
  readonly rejected: string;
  readonly blocksCheck: string;
  /** block and lift events, in the blocks stream: every notifier applies them in order */
  readonly blockEvents: string;
  /** counter and risk queries, answered by every node for the shards it holds */
  readonly query: string;
  shard (n: number): string;
}

export const DEFAULT_PREFIX = 'vigil';

/** A prefix is one or more NATS tokens: no spaces, dots only between tokens, no wildcards. */
export function isValidPrefix (prefix: string): boolean {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix);
}

export function subjects (prefix: string = DEFAULT_PREFIX): Subjects {
  return {
    in: `${prefix}.in`,
    alerts: `${prefix}.alerts`,
    rejected: `${prefix}.rejected`,
    blocksCheck: `${prefix}.blocks.check`,
    blockEvents: `${prefix}.blocks.events`,
    query: `${prefix}.query`,
    shard: (n) => `${prefix}.shard.${n}`,
  };
}
