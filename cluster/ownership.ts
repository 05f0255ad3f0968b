/**
 * Which node should hold which shard: rendezvous (highest random weight) hashing over the live
 * nodes. Every node computes the same answer from the same set of live nodes, so no node has
 * to hand out shards; when a node joins, only the shards that now prefer it move (about 1/N of
 * them), and when one dies, only its own shards move. Pure: the lease loop (shard-node.ts)
 * feeds it the live set it reads from the lease bucket.
 */
import { fnv1a32 } from '../core/hash.js';

/** Mixes a 32-bit hash well enough that close inputs spread (murmur3's finalizer). */
function mix (h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The live node that should hold `shard`; undefined when no node is live. */
export function preferredNode (shard: number, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const node of nodes) {
    const w = mix(fnv1a32(`${node}/${shard}`));
    if (w > bestWeight || (w === bestWeight && best !== undefined && node < best)) { best = node; bestWeight = w; }
  }
  return best;
}

/** The shards `node` should hold when `nodes` are live. */
export function shardsFor (node: string, nodes: readonly string[], shards: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < shards; s++) if (preferredNode(s, nodes) === node) out.push(s);
  return out;
}
