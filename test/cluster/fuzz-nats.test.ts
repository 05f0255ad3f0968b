// Fuzz, level 4: a real cluster node (`vigil serve` on its own JetStream nats-server on a free
// loopback port) takes seeded `<prefix>.in` requests of mutants: JSON lines, JSON arrays and
// MessagePack as Python and Go write it (64-bit integers, extensions, non-string keys, deep
// nesting, damaged bytes), and one of 20,000 bad lines. Every request is answered (none lost),
// each reject of an answer is on `<prefix>.rejected` with its reason, source and seq, the lanes
// apply all that was published, the node stays ready, /metrics counts what the answers said,
// and the node exits 0. Needs nats-server (apt-get install -y nats-server).
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/fuzz-nats.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRules } from '../../cluster/rules-file.js';
import { compileRules } from '../../core/compile.js';
import { connect, type NatsConnection } from '../../workers/nats-client.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { request, startServe, stopServe, within } from '../helpers/node.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { intBetween, mulberry32 } from '../helpers/prng.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { WHOLE, assertClear, expectedBody } from '../helpers/fuzz-model.js';
import { calmHead, joinUnits, mutantMessage, mutantUnits } from '../helpers/mutate-records.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const PREFIX = 'fuzz';

interface Ctx { dir: string, nats: NatsServer, nc: NatsConnection }
const fuzz = suite<Ctx>('cluster/coordinator: fuzzed <prefix>.in messages to a real cluster node', {} as Ctx);
fuzz.before(async (ctx) => {
  ctx.dir = tempDir('vigil-fuzz-nats-');
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
});
fuzz.after(async (ctx) => {
  await ctx.nc.close();
  await ctx.nats.stop();
  removeDir(ctx.dir);
});

interface Answer { accepted: number, rejected: number, rejects: Array<{ seq: number, reason: string }> }
interface Published { reason: string, code: string, source: string, seq: number, raw: string }

fuzz('every message is answered; its rejects reach <prefix>.rejected; the node stays ready and /metrics agrees', async ({ dir, nats, nc }) => {
  const config = join(dir, 'node.yaml');
  writeFileSync(config, `rules: ${RULES}\ndata: ${join(dir, 'data')}\nlisten: 127.0.0.1:0\nthreads: 1\nnats: { servers: ["${nats.url}"], prefix: ${PREFIX} }\n`);
  const published: Published[] = [];
  nc.subscribe(`${PREFIX}.rejected`, { callback: (err, msg) => { if (err === null) published.push(msg.json<Published>()); } });
  await nc.flush();
  const node = await startServe(config);
  const totals = { accepted: 0, rejected: 0, messages: 0 };
  try {
    const rnd = mulberry32(4222);
    // NATS takes messages up to 1 MB (max_payload): no 1 MB lines here.
    const units = calmHead('jsonl', mutantUnits('jsonl', rnd, 1200, 29, false, 0.6), compileRules(loadRules(RULES)), 0).filter((u) => u.text.length < 100_000);
    let at = 0;
    for (let m = 0; at < units.length || m < 150; m++) {
      let payload: Buffer;
      let want: number | undefined;
      let how: string;
      if (m % 2 === 0 && at < units.length) {
        const n = intBetween(rnd, 1, 25);
        const slice = units.slice(at, at + n);
        at += n;
        payload = rnd() < 0.7
          ? joinUnits(rnd, slice).bytes
          : Buffer.from(`[${slice.map((u) => u.text.toString('utf8')).filter((t) => { try { JSON.parse(t); return true; } catch { return false; } }).join(',')}]`);
        const text = payload.toString('utf8');
        // decodeInput reads it as JSON when it starts as JSON does; else as MessagePack.
        const model = /^[ \t\r\n]*[{[]/.test(text) ? expectedBody(payload) : undefined;
        want = model === undefined ? undefined : model === 'refused' ? 1 : model.lines.length;
        how = 'JSON';
      } else {
        const message = mutantMessage(rnd, 5000 + m);
        payload = message.payload;
        want = message.damaged || message.refusable ? undefined : message.records.length;
        how = 'MessagePack';
      }
      const where = `message ${m} (${how})`;
      const reply = await within(15_000, where, nc.request(`${PREFIX}.in`, payload, { timeout: 10_000 }));
      const answer = reply.json<Answer>();
      if (want !== undefined) assert.is(answer.accepted + answer.rejected, want, `${where}: every record answered for`);
      assert.is(answer.rejects.length, answer.rejected);
      answer.rejects.forEach((r) => {
        assert.ok(Number.isInteger(r.seq) && r.seq >= 1, `${where}: seq ${r.seq}`);
        if (!WHOLE.test(r.reason)) assertClear({ reason: r.reason, code: /^late: /.test(r.reason) ? 'VIGIL_LATE_RECORD' : /^future: /.test(r.reason) ? 'VIGIL_FUTURE_RECORD' : 'VIGIL_INVALID_RECORD', raw: '', position: { source: 'nats', seq: r.seq } }, `${where} #${r.seq}`);
      });
      totals.accepted += answer.accepted;
      totals.rejected += answer.rejected;
      totals.messages++;
      if (m % 25 === 0) assert.equal((await request(node.port, 'GET', '/readyz')).json, { status: 'ready' }, `ready after ${where}`);
    }
    assert.ok(totals.accepted > 500 && totals.rejected > 150, JSON.stringify(totals));

    // 20,000 bad lines: an answer listing them all is over NATS's 1 MB, and was never sent.
    const many = (await within(15_000, '20,000 bad lines', nc.request(`${PREFIX}.in`, Buffer.from('{"ts":1}\n'.repeat(20_000)), { timeout: 10_000 }))).json<Answer & { omitted: number }>();
    assert.equal([many.accepted, many.rejected, many.rejects.length + many.omitted], [0, 20_000, 20_000]);
    assert.ok(many.omitted > 0 && many.rejects.length > 5_000, `${many.rejects.length} listed`);
    totals.rejected += many.rejected;

    await nc.flush();
    const deadline = Date.now() + 10_000;
    while (published.length < totals.rejected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.is(published.length, totals.rejected, `every reject on ${PREFIX}.rejected`);
    for (const p of published) {
      assert.is(p.source, `nats:${PREFIX}.in`);
      assert.ok(Number.isInteger(p.seq) && p.seq >= 1, `seq ${p.seq}`);
      assert.type(p.raw, 'string');
      assert.ok(p.reason.length > 0 && p.code.startsWith('VIGIL_'), JSON.stringify(p).slice(0, 200));
    }

    const metrics = parsePrometheus((await request(node.port, 'GET', '/metrics')).text);
    const rejected = metrics.samples.filter((s) => s.name === 'vigil_records_rejected_total').reduce((sum, s) => sum + s.value, 0);
    assert.equal({ accepted: sampleValue(metrics, 'vigil_records_accepted_total'), rejected }, { accepted: totals.accepted, rejected: totals.rejected });
    assert.equal((await request(node.port, 'GET', '/readyz')).json, { status: 'ready' });
    // The lanes apply what was published (acknowledged means held by JetStream, not applied),
    // and no record made a commit fail (a key too long for LMDB did, until the engine stopped).
    const applied = async (): Promise<[number | undefined, number | undefined]> => {
      const e = parsePrometheus((await request(node.port, 'GET', '/metrics')).text);
      return [sampleValue(e, 'vigil_node_records_applied'), sampleValue(e, 'vigil_coordinator_records_published')];
    };
    const until = Date.now() + 15_000;
    let counts = await applied();
    while (counts[0] !== counts[1] && Date.now() < until) { await new Promise((resolve) => setTimeout(resolve, 100)); counts = await applied(); }
    assert.ok(counts[1]! > 0 && counts[0] === counts[1], `applied ${String(counts[0])} of ${String(counts[1])} published`);
    assert.not.match(node.stderr(), /commit to the data folder failed|engine failure/);
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

fuzz.run();
