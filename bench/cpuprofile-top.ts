/**
 * Prints the functions with the most self time in the newest .cpuprofile of a folder (as
 * written by `node --cpu-prof --cpu-prof-dir=DIR`), with file and line, so a profile can be
 * read on a machine without DevTools.
 *
 * Run: node dist/bench/cpuprofile-top.js DIR [N=25]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number } }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: cpuprofile-top.js DIR [N]\n');
  process.exit(2);
}
const n = Number(process.argv[3] ?? 25);
const newest = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t)[0];
if (newest === undefined) {
  process.stderr.write(`no .cpuprofile in ${dir}\n`);
  process.exit(1);
}
const profile = JSON.parse(readFileSync(join(dir, newest.f), 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((x) => [x.id, x]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const frame = (nodes.get(id) as ProfileNode).callFrame;
  const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/dist\//, '').replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
  const name = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where}`;
  self.set(name, (self.get(name) ?? 0) + dt);
});
console.log(`${newest.f}: ${(total / 1000).toFixed(0)} ms sampled`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) {
  console.log(`${(us / total * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}
