/**
 * Prints the functions with the most self time in the newest .cpuprofile of a folder (as
 * written by `node --cpu-prof --cpu-prof-dir=DIR`), with file and line, so a profile can be
 * read on a machine without DevTools.
 *
 * Run: node dist/bench/cpuprofile-top.js DIR [N=25] [--under FUNCTION]
 *   --under FUNCTION  count only samples with FUNCTION on the stack (e.g. `pass`, the replay
 *                     loop of profile-core.js, to leave set-up out); shares are then of those
 *                     samples, and garbage collection, which has no JS stack, is listed apart.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const args = process.argv.slice(2);
const underAt = args.indexOf('--under');
const under = underAt < 0 ? undefined : args.splice(underAt, 2)[1];
const dir = args[0];
if (dir === undefined) {
  process.stderr.write('usage: cpuprofile-top.js DIR [N] [--under FUNCTION]\n');
  process.exit(2);
}
const n = Number(args[1] ?? 25);
const newest = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t)[0];
if (newest === undefined) {
  process.stderr.write(`no .cpuprofile in ${dir}\n`);
  process.exit(1);
}
const profile = JSON.parse(readFileSync(join(dir, newest.f), 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((x) => [x.id, x]));
const parent = new Map<number, number>();
for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const inside = (id: number): boolean => {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    if ((nodes.get(at) as ProfileNode).callFrame.functionName === under) return true;
  }
  return false;
};
const self = new Map<string, number>();
let total = 0;
let all = 0;
let gcTime = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  all += dt;
  const frame = (nodes.get(id) as ProfileNode).callFrame;
  if (frame.functionName === '(garbage collector)') gcTime += dt;
  if (under !== undefined && !inside(id)) return;
  total += dt;
  const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/dist\//, '').replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
  const name = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where}`;
  self.set(name, (self.get(name) ?? 0) + dt);
});
console.log(`${newest.f}: ${(all / 1000).toFixed(0)} ms sampled` +
  (under === undefined ? '' : `, ${(total / 1000).toFixed(0)} ms under ${under}(); garbage collection ${(gcTime / 1000).toFixed(0)} ms (${(gcTime / all * 100).toFixed(1)} % of all)`));
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) {
  console.log(`${(us / total * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}
