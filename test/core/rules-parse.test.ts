// Tests for parseRules(): the spec's example file, the forms and defaults of every section,
// and one row per kind of mistake asserting the exact message with its file:line:col.
// Run: npx tsc -p tsconfig.json && node dist/test/core/rules-parse.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { parseRules } from '../../core/rules-parse.js';
import type { RulesSource } from '../../core/rules-parse.js';
import type { Filter, RuleConfig, RulesConfig } from '../../core/rules-config.js';
import { InvalidRulesError, formatDiagnostic } from '../../core/errors.js';
import { closest, editDistance } from '../../core/did-you-mean.js';

/** Compiled tests run from dist/test/core; fixtures stay in the source tree. */
const FIXTURES = new URL('../../../test/fixtures/rules/', import.meta.url);

function fixtureSource (): RulesSource {
  return { readFile: (path) => readFileSync(new URL(path, FIXTURES), 'utf8') };
}

/** Files by name; any other name fails as fs does, with code ENOENT. */
function memorySource (files: Record<string, string> = {}): RulesSource {
  return {
    readFile (path) {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return text;
    },
  };
}

/** The diagnostics parseRules throws for `text`, formatted as `vigil check` prints them. */
function diagnosticsOf (text: string, files: Record<string, string> = {}, file = 'rules.yaml'): string[] {
  try {
    parseRules(text, file, memorySource(files));
  } catch (err) {
    assert.instance(err, InvalidRulesError);
    const e = err as InvalidRulesError;
    assert.is(e.code, 'VIGIL_INVALID_RULES');
    assert.is(e.name, 'InvalidRulesError');
    const lines = e.diagnostics.map(formatDiagnostic);
    assert.is(e.message, lines.join('\n'));
    return lines;
  }
  assert.unreachable('parseRules should have thrown');
  return [];
}

function rule (config: RulesConfig, id: string): RuleConfig {
  const found = config.rules.find((r) => r.id === id);
  if (found === undefined) throw new Error(`no rule ${id}`);
  return found;
}

/** Eight header lines, so the first rule's `- id:` is on line 9. */
const HEAD = [
  'version: 1',
  'lists:',
  '  high_risk: [SO, TH, NG]',
  'groups:',
  '  wholesale: [acct-7]',
  'channels:',
  '  fraud-desk: { type: log }',
  'rules:',
].join('\n') + '\n';

/** HEAD plus rules; `lines` are the rules' lines, indented as under `rules:`. */
function withRules (...lines: string[]): string {
  return HEAD + lines.join('\n') + '\n';
}

function parseOk (text: string, files: Record<string, string> = {}, file = 'rules.yaml'): RulesConfig {
  try {
    return parseRules(text, file, memorySource(files));
  } catch (err) {
    if (err instanceof InvalidRulesError) assert.unreachable(`unexpected diagnostics:\n${err.message}`);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

const example = suite('core/rules-parse: the example file of rules.md');

example('parses with every reference resolved', () => {
  const text = readFileSync(new URL('spec-example.yaml', FIXTURES), 'utf8');
  const c = parseRules(text, 'spec-example.yaml', fixtureSource());
  assert.is(c.version, 1);
  assert.is(c.file, 'spec-example.yaml');
  assert.is(c.timezone, 'Europe/Berlin');
  assert.equal(c.accountScoped, ['subscription', 'caller']);
  assert.is(c.homeCountry, 'DE');
  assert.is(c.lateness, 3_600_000);
  assert.equal([...c.lists.keys()], ['high_risk', 'irsf_ranges', 'vip']);
  assert.equal(c.lists.get('high_risk'), ['SO', 'TH', 'NG']);
  assert.equal(c.lists.get('irsf_ranges'), ['+2521', '+88213', '+3716']);
  assert.equal(c.lists.get('vip'), ['+4930123456']);
  assert.equal(c.groups.get('wholesale'), ['acct-7', 'acct-9']);
  assert.equal(c.tariff, {
    currency: 'EUR',
    rates: [
      { prefix: '+252', perMinute: 1.2, perSms: 0.3, connect: 0.1, first: 60, next: 1 },
      { prefix: '+44', perMinute: 0.02, perSms: 0.01, connect: 0, first: 1, next: 1 },
      { prefix: '', perMinute: 0.05, perSms: 0.02, connect: 0, first: 1, next: 1 },
    ],
  });
  assert.equal(c.channels.get('fraud-desk'), { type: 'email', settings: { to: ['fraud@example.net'], smtp: 'smtp://127.0.0.1:2525' } });
  assert.equal(c.channels.get('noc'), { type: 'webhook', settings: { url: 'http://127.0.0.1:8080/alerts', secret: 'change-me' } });
  assert.equal(c.rules.map((r) => r.id), [
    'spend-1234-day', 'spend-1234-risky-day', 'spend-day', 'fanout-hour', 'irsf-hotlist', 'short-calls', 'spend-vs-baseline',
  ]);

  const day = rule(c, 'spend-1234-day');
  assert.equal(day.by, [{ kind: 'field', field: 'account' }]);
  assert.equal(day.measure, { kind: 'sum', field: 'cost' });
  assert.equal(day.window, { kind: 'calendar', unit: 'day' });
  assert.equal(day.where, { kind: 'field', field: 'account', cond: { op: 'eq', value: '1234' } });
  assert.is(day.limit, 100);
  assert.equal(day.notify, ['fraud-desk']);
  assert.equal(day.position, { line: 29, col: 5 });
  assert.is(day.severity, 'critical');
  assert.is(day.enabled, true);

  const risky = rule(c, 'spend-1234-risky-day');
  assert.equal(risky.where, {
    kind: 'all',
    of: [
      { kind: 'field', field: 'account', cond: { op: 'eq', value: '1234' } },
      { kind: 'field', field: 'country', cond: { op: 'in', values: ['SO', 'TH', 'NG'] } },
    ],
  });
  assert.equal(risky.notify, ['fraud-desk', 'noc']);
  assert.is(risky.action, 'block');

  const spend = rule(c, 'spend-day');
  assert.is(spend.limit, 500);
  assert.equal([...spend.limits], [['acct-7', 5000], ['acct-9', 2000]]);
  assert.equal(spend.warning, { kind: 'share', value: 0.8 });
  assert.equal(spend.shape, { weekday: [1, 1, 1, 1.3, 1, 1, 0.6], hour: [] });

  assert.equal(rule(c, 'fanout-hour').measure, { kind: 'distinct', field: 'called' });
  assert.equal(rule(c, 'fanout-hour').by, [{ kind: 'field', field: 'caller' }]);

  const irsf = rule(c, 'irsf-hotlist');
  assert.equal(irsf.measure, { kind: 'count' });
  assert.is(irsf.limit, 0);
  assert.equal(irsf.where, {
    kind: 'all',
    of: [
      { kind: 'field', field: 'called', cond: { op: 'prefix', values: ['+2521', '+88213', '+3716'] } },
      { kind: 'not', of: { kind: 'field', field: 'caller', cond: { op: 'in', values: ['+4930123456'] } } },
    ],
  });

  const short = rule(c, 'short-calls');
  assert.equal(short.measure, { kind: 'ratio', cond: { field: 'duration', op: '<', value: 6 } });
  assert.equal(short.window, { kind: 'sliding', ms: 3_600_000, text: '1h' });
  assert.is(short.minCount, 100);
  assert.is(short.limit, 0.6);

  const baseline = rule(c, 'spend-vs-baseline');
  assert.is(baseline.limit, undefined);
  assert.equal(baseline.adaptive, { over: 7, factor: 3, min: 20 });
});

example('the same file written as JSON parses to the same rules', () => {
  const yaml = parseOk(withRules(
    '  - { id: a, by: [caller, called], measure: "ratio(service == sms)", window: { sliding: 15m }, limit: 0.5,',
    '      where: { any: [{ country: $high_risk }, { duration: { gt: 60 } }] } }'
  ));
  const json = parseOk(JSON.stringify({
    version: 1,
    lists: { high_risk: ['SO', 'TH', 'NG'] },
    groups: { wholesale: ['acct-7'] },
    channels: { 'fraud-desk': { type: 'log' } },
    rules: [{
      id: 'a',
      by: ['caller', 'called'],
      measure: 'ratio(service == sms)',
      window: { sliding: '15m' },
      limit: 0.5,
      where: { any: [{ country: '$high_risk' }, { duration: { gt: 60 } }] },
    }],
  }, null, 2));
  assert.equal(json.rules.map(({ position: _, ...r }) => r), yaml.rules.map(({ position: _, ...r }) => r));
  assert.equal(json.rules[0]?.measure, { kind: 'ratio', cond: { field: 'service', op: '==', value: 'sms' } });
  assert.equal(json.rules[0]?.window, { kind: 'sliding', ms: 900_000, text: '15m' });
});

example.run();

// ---------------------------------------------------------------------------------------------

const forms = suite('core/rules-parse: forms and defaults');

forms('a minimal file gets the documented defaults', () => {
  const c = parseOk('version: 1\nrules:\n  - id: a\n    measure: count\n    window: minute\n    limit: 1\n');
  assert.is(c.timezone, 'UTC');
  assert.equal(c.accountScoped, ['subscription', 'caller']);
  assert.is(c.homeCountry, undefined);
  assert.is(c.lateness, 3_600_000);
  assert.is(c.tariff, undefined);
  assert.is(c.lists.size, 0);
  assert.is(c.channels.size, 0);
  assert.equal(c.rules[0], {
    id: 'a',
    by: [{ kind: 'field', field: 'account' }],
    measure: { kind: 'count' },
    window: { kind: 'calendar', unit: 'minute' },
    limit: 1,
    limits: new Map(),
    severity: 'critical',
    minCount: 0,
    enabled: true,
    position: { line: 3, col: 5 },
  });
});

forms('top-level settings are read and converted', () => {
  const c = parseOk('version: 1\ntimezone: America/New_York\naccount_scoped: []\nhome_country: SO\nlateness: 90s\nrules: []\n');
  assert.is(c.timezone, 'America/New_York');
  assert.equal(c.accountScoped, []);
  assert.is(c.homeCountry, 'SO');
  assert.is(c.lateness, 90_000);
  assert.equal(parseOk('version: 1\nlateness: 2d\nrules: []\n').lateness, 172_800_000);
});

forms('by takes a field, a list, prefix(F, N), trim(F, N) and attrs.NAME', () => {
  const c = parseOk(withRules(
    '  - { id: a, by: caller, measure: count, window: day, limit: 1 }',
    '  - { id: b, by: [caller, called], measure: count, window: day, limit: 1 }',
    '  - { id: c, by: "prefix(called, 6)", measure: count, window: day, limit: 1 }',
    '  - id: d',
    '    by: [account, trim(caller, 3), attrs.tier]',
    '    measure: count',
    '    window: day',
    '    limit: 1'
  ));
  assert.equal(c.rules.map((r) => r.by), [
    [{ kind: 'field', field: 'caller' }],
    [{ kind: 'field', field: 'caller' }, { kind: 'field', field: 'called' }],
    [{ kind: 'prefix', field: 'called', n: 6 }],
    [{ kind: 'field', field: 'account' }, { kind: 'trim', field: 'caller', n: 3 }, { kind: 'field', field: 'attrs.tier' }],
  ]);
});

forms('every measure form', () => {
  const measures = [
    'count', 'concurrent', 'sum(duration)', 'avg(cost)', 'max(attrs.bytes)', 'distinct(called)',
    'ratio(service == sms)', 'ratio(answered == false)', 'ratio(attrs.tier != "gold")', 'ratio(caller == 0049)', 'ratio(hour >= 22)',
  ];
  const c = parseOk(withRules(...measures.map((m, i) => `  - { id: m${i}, measure: "${m.replaceAll('"', '\\"')}", window: day, limit: 1 }`)));
  assert.equal(c.rules.map((r) => r.measure), [
    { kind: 'count' },
    { kind: 'concurrent' },
    { kind: 'sum', field: 'duration' },
    { kind: 'avg', field: 'cost' },
    { kind: 'max', field: 'attrs.bytes' },
    { kind: 'distinct', field: 'called' },
    { kind: 'ratio', cond: { field: 'service', op: '==', value: 'sms' } },
    { kind: 'ratio', cond: { field: 'answered', op: '==', value: false } },
    { kind: 'ratio', cond: { field: 'attrs.tier', op: '!=', value: 'gold' } },
    { kind: 'ratio', cond: { field: 'caller', op: '==', value: '0049' } },
    { kind: 'ratio', cond: { field: 'hour', op: '>=', value: 22 } },
  ]);
});

forms('filters: operators, lists, time of day, weekdays and combinators', () => {
  const c = parseOk(withRules(
    '  - id: f',
    '    measure: count',
    '    window: day',
    '    limit: 1',
    '    where:',
    '      caller: 0049301',
    '      called: { prefix: [+252, "+88213"], not_prefix: +2521 }',
    '      country: { not_in: $high_risk }',
    '      duration: { gte: 10, lt: 3600 }',
    '      hour: { between: [9, 17] }',
    '      answered: true',
    '      attrs.tier: 2',
    '      origin: { exists: false }',
    '      group: [wholesale]',
    '      hours: "22:00-06:00"',
    '      weekday: sat',
    '      any: [{ service: sms }, { all: [{ service: voice }, { direction: in }] }]',
    '      not: { trunk: { in: [t1, t2] } }'
  ));
  const field = (f: string, cond: unknown): Filter => ({ kind: 'field', field: f, cond } as Filter);
  assert.equal(c.rules[0]?.where, {
    kind: 'all',
    of: [
      field('caller', { op: 'eq', value: '0049301' }),
      field('called', { op: 'prefix', values: ['+252', '+88213'] }),
      field('called', { op: 'not_prefix', values: ['+2521'] }),
      field('country', { op: 'not_in', values: ['SO', 'TH', 'NG'] }),
      field('duration', { op: 'gte', value: 10 }),
      field('duration', { op: 'lt', value: 3600 }),
      field('hour', { op: 'between', low: 9, high: 17 }),
      field('answered', { op: 'eq', value: true }),
      field('attrs.tier', { op: 'eq', value: 2 }),
      field('origin', { op: 'exists', value: false }),
      field('group', { op: 'in', values: ['wholesale'] }),
      { kind: 'hours', from: 22 * 60, to: 6 * 60 },
      { kind: 'weekday', days: ['sat'] },
      {
        kind: 'any',
        of: [
          field('service', { op: 'eq', value: 'sms' }),
          { kind: 'all', of: [field('service', { op: 'eq', value: 'voice' }), field('direction', { op: 'eq', value: 'in' })] },
        ],
      },
      { kind: 'not', of: field('trunk', { op: 'in', values: ['t1', 't2'] }) },
    ],
  });
});

forms('between takes a $list of two numbers, as every filter list may be a $list (rules.md, Filters)', () => {
  const c = parseOk(
    'version: 1\nlists:\n  short: [5, 10]\nrules:\n' +
    '  - { id: a, measure: count, window: day, limit: 1, where: { duration: { between: $short } } }\n'
  );
  assert.equal(c.rules[0]?.where, { kind: 'field', field: 'duration', cond: { op: 'between', low: 5, high: 10 } });
});

forms('hours may end at 24:00', () => {
  const c = parseOk(withRules('  - { id: a, measure: count, window: day, limit: 1, where: { hours: "18:00-24:00" } }'));
  assert.equal(c.rules[0]?.where, { kind: 'hours', from: 1080, to: 1440 });
});

forms('weekday lists and a weekday $list', () => {
  const c = parseOk(
    'version: 1\nlists:\n  weekend: [sat, sun]\nrules:\n' +
    '  - { id: a, measure: count, window: day, limit: 1, where: { weekday: [mon, fri] } }\n' +
    '  - { id: b, measure: count, window: day, limit: 1, where: { weekday: $weekend, hours: "08:30-17:00" } }\n'
  );
  assert.equal(c.rules[0]?.where, { kind: 'weekday', days: ['mon', 'fri'] });
  assert.equal(c.rules[1]?.where, { kind: 'all', of: [{ kind: 'weekday', days: ['sat', 'sun'] }, { kind: 'hours', from: 510, to: 1020 }] });
});

forms('thresholds: limits, limits_file, absolute warning, adaptive with a floor, shape by hour', () => {
  const c = parseOk(withRules(
    '  - id: t',
    '    description: per-account spend',
    '    measure: sum(cost)',
    '    window: week',
    '    limit: 100',
    '    limits: { 1234: 50 }',
    '    limits_file: limits.csv',
    '    warning: 80',
    '    severity: critical',
    '    min_count: 3',
    '    adaptive: { over: 4, factor: 2.5 }',
    '    shape: { hour: { "22-6": 0.5, 8-18: 1.5 } }',
    '    notify: fraud-desk',
    '    score: 25',
    '    enabled: false'
  ), { 'limits.csv': 'key,limit\r\nacct-1,10\r\n\r\n"acct,2", 20.5\r\n0049,7\r\n' });
  const t = c.rules[0] as RuleConfig;
  assert.is(t.description, 'per-account spend');
  assert.equal(t.window, { kind: 'calendar', unit: 'week' });
  assert.equal([...t.limits], [['1234', 50], ['acct-1', 10], ['acct,2', 20.5], ['0049', 7]]);
  assert.equal(t.warning, { kind: 'absolute', value: 80 });
  assert.is(t.minCount, 3);
  assert.equal(t.adaptive, { over: 4, factor: 2.5, min: 100 });
  assert.equal(t.shape, { weekday: [1, 1, 1, 1, 1, 1, 1], hour: [{ from: 22, to: 6, factor: 0.5 }, { from: 8, to: 18, factor: 1.5 }] });
  assert.equal(t.notify, ['fraud-desk']);
  assert.is(t.score, 25);
  assert.is(t.enabled, false);
  assert.is(t.action, undefined);
});

forms('adaptive without limit or min has the floor 0; warning share with adaptive', () => {
  const c = parseOk(withRules('  - { id: a, measure: count, window: hour, adaptive: { over: 1, factor: 1 }, warning: "50%" }'));
  assert.is(c.rules[0]?.limit, undefined);
  assert.equal(c.rules[0]?.adaptive, { over: 1, factor: 1, min: 0 });
  assert.equal(c.rules[0]?.warning, { kind: 'share', value: 0.5 });
});

forms('numbers written without quotes stay text where text is meant', () => {
  const c = parseOk(
    'version: 1\nlists:\n  ranges: [+252, 0049, 882]\ngroups:\n  g1: [1234, 0042]\n' +
    'channels:\n  gw: { type: sms, url: "https://sms.example/send", to: +4917012345, auth: token }\n' +
    'tariff:\n  rates:\n    - { prefix: +252, per_minute: 1 }\n    - { prefix: "+2521", per_sms: 0.5 }\nrules: []\n'
  );
  assert.equal(c.lists.get('ranges'), ['+252', '0049', '882']);
  assert.equal(c.groups.get('g1'), ['1234', '0042']);
  assert.equal(c.channels.get('gw'), { type: 'sms', settings: { url: 'https://sms.example/send', to: '+4917012345', auth: 'token' } });
  assert.equal(c.tariff?.rates, [
    { prefix: '+252', perMinute: 1, perSms: 0, connect: 0, first: 1, next: 1 },
    { prefix: '+2521', perMinute: 0, perSms: 0.5, connect: 0, first: 1, next: 1 },
  ]);
  assert.is(c.tariff?.currency, undefined);
});

forms('list files: one value a line, trimmed, blank lines and # comments skipped', () => {
  const c = parseOk('version: 1\nlists:\n  r: { file: r.txt }\ngroups:\n  g: $r\nrules: []\n', {
    'r.txt': '\uFEFF# header\r\n +2521 \r\n\r\n\t+88213\n#+999\n+3716',
  });
  assert.equal(c.lists.get('r'), ['+2521', '+88213', '+3716']);
  assert.equal(c.groups.get('g'), ['+2521', '+88213', '+3716']);
});

forms('channels of every type keep their settings', () => {
  const c = parseOk([
    'version: 1',
    'channels:',
    '  a: { type: webhook, url: "https://h.example/x", secret: s, headers: { X-A: b }, timeout: 5s, min_severity: warning }',
    '  b: { type: email, to: ops@example.net, from: vigil@example.net, smtp: "smtps://u:p@mail.example:465", digest: 1m }',
    '  c: { type: nats, subject: vigil.alerts }',
    '  d: { type: file, path: /var/log/vigil/alerts.jsonl, rate: 10/1m }',
    '  e: { type: log }',
    'rules: []',
  ].join('\n'));
  assert.equal(Object.fromEntries(c.channels), {
    a: { type: 'webhook', settings: { url: 'https://h.example/x', secret: 's', headers: { 'X-A': 'b' }, timeout: '5s', min_severity: 'warning' } },
    b: { type: 'email', settings: { to: 'ops@example.net', from: 'vigil@example.net', smtp: 'smtps://u:p@mail.example:465', digest: '1m' } },
    c: { type: 'nats', settings: { subject: 'vigil.alerts' } },
    d: { type: 'file', settings: { path: '/var/log/vigil/alerts.jsonl', rate: '10/1m' } },
    e: { type: 'log', settings: {} },
  });
});

forms('a million-line list file is read and referenced without copies', () => {
  const lines: string[] = ['# generated ranges'];
  for (let i = 0; i < 1_000_000; i++) lines.push(`+88${1_000_000 + i}`);
  const c = parseOk(
    'version: 1\nlists:\n  irsf: { file: irsf.txt }\nrules:\n' +
    '  - { id: a, by: caller, measure: count, window: day, limit: 0, where: { called: { prefix: $irsf } } }\n',
    { 'irsf.txt': lines.join('\n') }
  );
  const list = c.lists.get('irsf') as readonly string[];
  assert.is(list.length, 1_000_000);
  assert.is(list[0], '+881000000');
  assert.is(list[999_999], '+881999999');
  const where = c.rules[0]?.where;
  assert.ok(where?.kind === 'field' && where.cond.op === 'prefix' && where.cond.values === list);
});

forms.run();

// ---------------------------------------------------------------------------------------------

interface Row {
  readonly name: string;
  readonly text: string;
  readonly files?: Record<string, string>;
  readonly file?: string;
  readonly expected: readonly string[];
}

const R = 'rules.yaml';
const ROWS: readonly Row[] = [
  {
    name: 'unknown rule key with a suggestion (and the required key it misspelt)',
    text: withRules('  - id: spend-day', '    measure: sum(cost)', '    windw: day', '    limit: 5'),
    expected: [
      `${R}:9:5 rules[0].window is required`,
      `${R}:11:5 unknown key "windw" in rule "spend-day"; did you mean "window"?`,
    ],
  },
  {
    name: 'bad windows',
    text: withRules(
      '  - { id: a, measure: count, limit: 1, window: fortnight }',
      '  - { id: b, measure: count, limit: 1, window: 15m }',
      '  - { id: c, measure: count, limit: 1, window: hours }',
      '  - { id: d, measure: count, limit: 1, window: { sliding: 0m } }',
      '  - { id: e, measure: count, limit: 1, window: { sliding: 15 min } }',
      '  - { id: f, measure: count, limit: 1, window: { slidin: 1h } }',
      '  - { id: g, measure: count, limit: 1, window: {} }'
    ),
    expected: [
      `${R}:9:48 rules[0].window must be minute, hour, day, week, month or { sliding: DURATION }, got "fortnight"`,
      `${R}:10:48 rules[1].window must be minute, hour, day, week, month or { sliding: DURATION }, got "15m"; did you mean { sliding: 15m }?`,
      `${R}:11:48 rules[2].window must be minute, hour, day, week, month or { sliding: DURATION }, got "hours"; did you mean "hour"?`,
      `${R}:12:59 rules[3].window.sliding must be a positive duration such as 90s, 30m, 1h or 2d, got "0m"`,
      `${R}:13:59 rules[4].window.sliding must be a positive duration such as 90s, 30m, 1h or 2d, got "15 min"`,
      `${R}:14:50 unknown key "slidin" in rules[5].window; did you mean "sliding"?`,
      `${R}:15:48 rules[6].window must be minute, hour, day, week, month or { sliding: DURATION }, got {}`,
    ],
  },
  {
    name: 'unknown $list, unknown field, unknown operator, unknown channel',
    text: withRules(
      '  - id: a',
      '    measure: count',
      '    window: day',
      '    limit: 1',
      '    where: { country: $high_rsk, called: { prefx: ["+1"] }, contry: SO, tier: gold, hours: "25:00-06:00" }',
      '    notify: [fraud-desk, fraud_dsk, pager, $high_risk]'
    ),
    expected: [
      `${R}:13:23 unknown list "$high_rsk" in rules[0].where.country; did you mean "$high_risk"?`,
      `${R}:13:44 unknown operator "prefx" in rules[0].where.called; did you mean "prefix"?`,
      `${R}:13:61 unknown field "contry" in rules[0].where; did you mean "country"?`,
      `${R}:13:73 unknown field "tier" in rules[0].where; a record attribute is written attrs.tier`,
      `${R}:13:92 rules[0].where.hours must be a time range "HH:MM-HH:MM" such as "22:00-06:00", got "25:00-06:00"`,
      `${R}:14:26 unknown channel "fraud_dsk" in rules[0].notify; did you mean "fraud-desk"?`,
      `${R}:14:37 unknown channel "pager" in rules[0].notify`,
      `${R}:14:44 rules[0].notify[3] names channels, not a $list: write the channel names (fraud-desk), got "$high_risk"`,
    ],
  },
  {
    name: 'duplicate rule ids point at the second and name the first',
    text: withRules(
      '  - { id: a, measure: count, window: day, limit: 1 }',
      '  - { id: b, measure: count, window: day, limit: 1 }',
      '  - { id: a, measure: count, window: day, limit: 2 }'
    ),
    expected: [`${R}:11:11 duplicate rule id "a"; first defined at line 9`],
  },
  {
    name: 'ratio without a valid condition',
    text: withRules(
      '  - { id: a, window: day, limit: 0.5, measure: ratio(duration) }',
      '  - { id: b, window: day, limit: 0.5, measure: "ratio(duration < 6 && answered == true)" }',
      '  - { id: c, window: day, limit: 0.5, measure: ratio(service < 5) }',
      '  - { id: d, window: day, limit: 0.5, measure: ratio(service == vioce) }',
      '  - { id: e, window: day, limit: 0.5, measure: ratio(duraton < 6) }',
      '  - { id: f, window: day, limit: 0.5, measure: ratio(duration < six) }',
      '  - { id: g, window: day, limit: 60, measure: ratio(duration < 6) }'
    ),
    expected: [
      `${R}:9:48 rules[0].measure must be ratio(FIELD OP VALUE) with OP one of <, <=, >, >=, ==, != such as ratio(duration < 6), got "ratio(duration)"`,
      `${R}:10:48 rules[1].measure must be ratio(FIELD OP VALUE) with OP one of <, <=, >, >=, ==, != such as ratio(duration < 6), got "ratio(duration < 6 && answered == true)"`,
      `${R}:11:48 rules[2].measure: < works on number fields (duration, cost, hour or attrs.NAME), not on service`,
      `${R}:12:48 rules[3].measure: service must be compared with voice, sms or data, got "vioce"; did you mean "voice"?`,
      `${R}:13:48 unknown field "duraton" in rules[4].measure; did you mean "duration"?`,
      `${R}:14:48 rules[5].measure: duration must be compared with a number, got "six"`,
      `${R}:15:34 rules[6].limit must be a share between 0 and 1 for a ratio measure, got 60`,
    ],
  },
  {
    name: 'bad measures',
    text: withRules(
      '  - { id: a, window: day, limit: 1, measure: summ(cost) }',
      '  - { id: b, window: day, limit: 1, measure: sum(account) }',
      '  - { id: c, window: day, limit: 1, measure: count(caller) }',
      '  - { id: d, window: day, limit: 1, measure: distinct() }',
      '  - { id: e, window: day, limit: 1 }'
    ),
    expected: [
      `${R}:9:46 rules[0].measure must be count, sum(FIELD), avg(FIELD), max(FIELD), distinct(FIELD), concurrent, ratio(FIELD OP VALUE), new(FIELD) or risk, got "summ(cost)"; did you mean "sum"?`,
      `${R}:10:46 rules[1].measure: sum works on number fields (duration, cost, hour or attrs.NAME), not on account`,
      `${R}:11:46 rules[2].measure must be count without arguments, got "count(caller)"`,
      `${R}:12:46 rules[3].measure must be distinct(FIELD), got "distinct()"`,
      `${R}:13:5 rules[4].measure is required`,
    ],
  },
  {
    name: 'bad by',
    text: withRules(
      '  - { id: a, measure: count, window: day, limit: 1, by: acount }',
      '  - { id: b, measure: count, window: day, limit: 1, by: [caller, prefix(called, 0), "prefix(called)", ts] }',
      '  - { id: c, measure: count, window: day, limit: 1, by: [] }',
      '  - { id: d, measure: count, window: day, limit: 1, by: "caller called" }',
      '  - { id: e, measure: count, window: day, limit: 1, by: [caller, prefix(called, 6), caller] }'
    ),
    expected: [
      `${R}:9:57 unknown field "acount" in rules[0].by; did you mean "account"?`,
      `${R}:10:66 rules[1].by[1] must be prefix(FIELD, N) with N >= 1, got "prefix(called, 0)"`,
      `${R}:10:85 rules[1].by[2] must be a field, prefix(FIELD, N) or trim(FIELD, N), got "prefix(called)"`,
      `${R}:10:103 unknown field "ts" in rules[1].by[3]; rules reach event time through hour, weekday and hours`,
      `${R}:11:57 rules[2].by must be a field or a non-empty list of fields, got []`,
      `${R}:12:57 rules[3].by must be a field, prefix(FIELD, N) or trim(FIELD, N), got "caller called"`,
      `${R}:13:85 rules[4].by names caller twice (rules[4].by[0] and rules[4].by[2]): each part of a key must differ`,
    ],
  },
  {
    name: 'missing limit, bad limits and thresholds',
    text: withRules(
      '  - id: a',
      '    measure: count',
      '    window: day',
      '  - { id: b, measure: count, window: day, limit: -1, limits: { x: ten } }',
      '  - { id: c, measure: count, window: day, limit: 10, warning: 10 }',
      '  - { id: d, measure: count, window: day, limit: 10, warning: "120%" }',
      '  - { id: e, measure: count, window: day, limit: 10, warning: "80%", severity: warning }',
      '  - { id: f, measure: count, window: day, limit: 10, warning: lots }',
      '  - { id: g, measure: count, window: day, limit: 10, adaptive: { over: 0, factr: 2, min: 5 } }',
      '  - { id: h, measure: count, window: day, adaptive: { over: 100000000, factor: 2, min: 5 } }'
    ),
    expected: [
      `${R}:9:5 rules[0].limit is required (or adaptive: { over, factor, min })`,
      `${R}:12:50 rules[1].limit must be a number >= 0, got -1`,
      `${R}:12:67 rules[1].limits.x must be a number >= 0, got "ten"`,
      `${R}:13:63 rules[2].warning must be below limit (10), got 10`,
      `${R}:14:63 rules[3].warning must be a share above 0% and below 100%, got "120%"`,
      `${R}:15:63 rules[4].warning needs severity critical (the warning threshold alerts at severity warning, the limit at the rule's severity), got severity "warning"`,
      `${R}:16:63 rules[5].warning must be a number >= 0 or a share of the limit such as "80%", got "lots"`,
      `${R}:17:64 rules[6].adaptive.factor is required`,
      `${R}:17:72 rules[6].adaptive.over must be an integer from 1 to 1000 (completed windows each key keeps), got 0`,
      `${R}:17:75 unknown key "factr" in rules[6].adaptive; did you mean "factor"?`,
      `${R}:17:85 rules[6].adaptive.min cannot be given with limit: limit is then the floor`,
      `${R}:18:61 rules[7].adaptive.over must be an integer from 1 to 1000 (completed windows each key keeps), got 100000000`,
    ],
  },
  {
    name: 'limits_file lines are reported with the CSV file\'s own name, line and column',
    file: 'conf/rules.yaml',
    text: withRules('  - { id: a, measure: count, window: day, limit: 1, limits: { acct-9: 3 }, limits_file: limits.csv }'),
    files: { 'limits.csv': 'key,limit\nacct-1,5\nacct-2, abc\n\nacct-1,7\na,b,c\n"q,1", 3\n"open,4\nacct-9,1\n' },
    expected: [
      'conf/limits.csv:3:9 limit must be a number >= 0, got "abc"',
      'conf/limits.csv:5:1 duplicate key "acct-1"; first defined at line 2',
      'conf/limits.csv:6:1 expected two columns key,limit, got 3',
      'conf/limits.csv:8:1 unterminated quote in column starting at col 1',
      'conf/rules.yaml:9:89 rules[0].limits_file "limits.csv": key "acct-9" is also given in limits',
    ],
  },
  {
    // A duplicate names the line the key was taken from: not a bad line before it, in CRLF,
    // quoted or plain alike.
    name: 'a duplicate key in a limits_file names the line its limit was taken from',
    file: 'conf/rules.yaml',
    text: withRules('  - { id: a, measure: count, window: day, limit: 1, limits_file: limits.csv }'),
    files: { 'limits.csv': 'key,limit\r\nk, abc\r\nk,5\r\nx,1\r\nx,1\r\nk,7\r\n"q",1\r\n q ,2\r\n' },
    expected: [
      'conf/limits.csv:2:4 limit must be a number >= 0, got "abc"',
      'conf/limits.csv:5:1 duplicate key "x"; first defined at line 4',
      'conf/limits.csv:6:1 duplicate key "k"; first defined at line 3',
      'conf/limits.csv:8:2 duplicate key "q"; first defined at line 7',
    ],
  },
  {
    name: 'unreadable list and limits files',
    text: withRules('  - { id: a, measure: count, window: day, limit: 1, limits_file: nope.csv }').replace('lists:\n', 'lists:\n  gone: { file: gone.txt }\n'),
    expected: [
      `${R}:3:17 lists.gone.file "gone.txt" cannot be read: no such file`,
      `${R}:10:66 rules[0].limits_file "nope.csv" cannot be read: no such file`,
    ],
  },
  {
    name: 'filter conditions checked against their fields',
    text: withRules(
      '  - id: w',
      '    measure: count',
      '    window: day',
      '    limit: 10',
      '    where:',
      '      weekday: [saturday, sun]',
      '      any: []',
      '      not: { direction: outbound }',
      '      duration: { between: [5, 1], prefix: ["1"] }',
      '      answered: yes',
      '      group: wholesal',
      '      caller: { exists: maybe, lt: 4 }',
      '      country: [so, SO]',
      '      service: {}',
      '      trunk:',
      '      all: { service: sms }'
    ),
    expected: [
      `${R}:14:17 rules[0].where.weekday must be mon, tue, wed, thu, fri, sat or sun, or a list of them, got "saturday"; did you mean "sat"?`,
      `${R}:15:12 rules[0].where.any must be a non-empty list of filters, got []`,
      `${R}:16:25 rules[0].where.not.direction must be out or in, got "outbound"`,
      `${R}:17:28 rules[0].where.duration.between must be [LOW, HIGH], two numbers with LOW <= HIGH, got [5,1]`,
      `${R}:17:36 rules[0].where.duration.prefix works on text fields, not on duration`,
      `${R}:18:17 rules[0].where.answered must be true or false, got "yes"`,
      `${R}:19:14 rules[0].where.group must be a group defined under groups, got "wholesal"; did you mean "wholesale"?`,
      `${R}:20:25 rules[0].where.caller.exists must be true or false, got "maybe"`,
      `${R}:20:32 rules[0].where.caller.lt works on number fields (duration, cost, hour or attrs.NAME), not on caller`,
      `${R}:21:17 rules[0].where.country[0] must be an ISO 3166-1 alpha-2 country code such as DE, got "so"; did you mean "SO"?`,
      `${R}:22:16 rules[0].where.service must have at least one operator (in, not_in, prefix, not_prefix, lt, lte, gt, gte, between, exists), got {}`,
      `${R}:23:13 rules[0].where.trunk must be a value, a list, a $list reference or an operator object such as { in: [...] }, got nothing`,
      `${R}:24:12 rules[0].where.all must be a non-empty list of filters, got {"service":"sms"}`,
    ],
  },
  {
    name: 'a between $list that is not two ordered numbers is reported at the reference',
    text: withRules(
      '  - { id: a, measure: count, window: day, limit: 1, where: { duration: { between: $high_risk } } }',
      '  - { id: b, measure: count, window: day, limit: 1, where: { duration: { between: $nope } } }'
    ),
    expected: [
      `${R}:9:83 rules[0].where.duration.between must be [LOW, HIGH], two numbers with LOW <= HIGH, got ["SO","TH","NG"] in list "$high_risk"`,
      `${R}:10:83 unknown list "$nope" in rules[1].where.duration.between`,
    ],
  },
  {
    name: 'a country no number belongs to (UK for GB) is reported: country would never match',
    text: withRules(
      '  - { id: a, measure: count, window: day, limit: 1, where: { country: UK } }',
      '  - { id: b, measure: count, window: day, limit: 1, where: { country: { not_in: [SO, EL] }, origin: UK } }'
    ),
    expected: [
      `${R}:9:71 rules[0].where.country must be an ISO 3166-1 alpha-2 country code of the numbering plan such as DE, got "UK"; did you mean "GB"?`,
      `${R}:10:86 rules[1].where.country.not_in[1] must be an ISO 3166-1 alpha-2 country code of the numbering plan such as DE, got "EL"; did you mean "GR"?`,
    ],
  },
  {
    name: 'a $list whose entries do not fit the field is reported at the reference',
    text: withRules('  - { id: a, measure: count, window: day, limit: 1, where: { duration: $high_risk } }'),
    expected: [`${R}:9:72 rules[0].where.duration must be a number, got "SO" in list "$high_risk"`],
  },
  {
    name: 'rule fields with the wrong values',
    text: withRules(
      '  - id: b c',
      '    measure: count',
      '    window: day',
      '    limit: 1',
      '    severity: high',
      '    enabled: maybe',
      '    action: blok',
      '    min_count: 2.5',
      '    score: high',
      '    shape: { weekday: { thur: 1, sun: 0 }, hour: { "8-18": 2, "17-20": 1, "25-3": 1 } }',
      '  - measure: count',
      '    window: day',
      '    limit: 1',
      '  - just text'
    ),
    expected: [
      `${R}:9:9 rules[0].id must be a name of letters, digits, "_", "." or "-", got "b c"`,
      `${R}:13:15 rules[0].severity must be info, warning or critical, got "high"`,
      `${R}:14:14 rules[0].enabled must be true, false or shadow, got "maybe"`,
      `${R}:15:13 rules[0].action must be block, got "blok"; did you mean "block"?`,
      `${R}:16:16 rules[0].min_count must be an integer >= 0, got 2.5`,
      `${R}:17:12 rules[0].score must be a number, got "high"`,
      `${R}:18:25 unknown key "thur" in rules[0].shape.weekday; did you mean "thu"?`,
      `${R}:18:39 rules[0].shape.weekday.sun must be a factor > 0, got 0`,
      `${R}:18:63 rules[0].shape.hour["17-20"] overlaps "8-18"`,
      `${R}:18:75 rules[0].shape.hour["25-3"] must be a range of hours "H-H" with H from 0 to 24 such as "8-18" or "22-6", got "25-3"`,
      `${R}:19:5 rules[1].id is required`,
      `${R}:22:5 rules[2] must be a map of rule fields (id, measure, window, limit, …), got "just text"`,
    ],
  },
  {
    name: 'top-level settings',
    text: [
      'version: 2',
      'timezone: Europe/Berln',
      'home_country: de',
      'lateness: 1 hour',
      'account_scoped: [subscription, callr]',
      'lists:',
      '  b: [1, [2], $a]',
      '  c: { path: x.txt }',
      'rule: []',
    ].join('\n'),
    expected: [
      `${R}:1:1 rules is required (a list of rules)`,
      `${R}:1:10 version must be 1, got 2`,
      `${R}:2:11 timezone must be an IANA time zone such as Europe/Berlin, got "Europe/Berln"; did you mean "Europe/Berlin"?`,
      `${R}:3:15 home_country must be an ISO 3166-1 alpha-2 country code such as DE, got "de"; did you mean "DE"?`,
      `${R}:4:11 lateness must be a duration such as 90s, 30m, 1h or 2d, got "1 hour"`,
      `${R}:5:32 unknown field "callr" in account_scoped; did you mean "caller"?`,
      `${R}:7:10 lists.b[1] must be a value, got [2]`,
      `${R}:7:15 lists.b[2] must be a value, got "$a"; a list cannot refer to another list`,
      `${R}:8:8 unknown key "path" in lists.c`,
      `${R}:9:1 unknown key "rule" in the rules file; did you mean "rules"?`,
    ],
  },
  {
    name: 'version is required',
    text: 'rules: []\n',
    expected: [`${R}:1:1 version is required (version: 1)`],
  },
  {
    name: 'a file that is not a map',
    text: '- version: 1\n',
    expected: [`${R}:1:1 the rules file must be a map of top-level keys (version, rules, …), got [{"version":1}]`],
  },
  {
    name: 'tariff',
    text: [
      'version: 1',
      'tariff:',
      '  currency: euro',
      '  rates:',
      '    - { prefix: "+44", connect: 1 }',
      '    - { prefix: +44, per_minute: 1, per_sms: -1, increment: "60" }',
      '    - { prefix: "44a", per_minute: 1, per_sms: 1, conect: 1 }',
      'rules: []',
    ].join('\n'),
    expected: [
      `${R}:3:13 tariff.currency must be an ISO 4217 currency code such as EUR, got "euro"`,
      `${R}:5:7 tariff.rates[0] must set per_minute, per_sms or both`,
      `${R}:6:17 duplicate prefix "+44" in tariff.rates; first defined at line 5`,
      `${R}:6:46 tariff.rates[1].per_sms must be a number >= 0, got -1`,
      `${R}:6:61 tariff.rates[1].increment must be "FIRST/NEXT" in whole seconds >= 1 such as "60/1", got "60"`,
      `${R}:7:17 tariff.rates[2].prefix must be digits with an optional leading + such as "+252", or "" for the default rate, got "44a"`,
      `${R}:7:51 unknown key "conect" in tariff.rates[2]; did you mean "connect"?`,
    ],
  },
  {
    name: 'channels (URLs with credentials are never echoed)',
    text: [
      'version: 1',
      'channels:',
      '  x: { type: emial }',
      '  y: { type: email, to: [], smtp: "http://user:secret@host" }',
      '  z: { type: webhook, urll: "http://x" }',
      '  w: { to: a }',
      'rules: []',
    ].join('\n'),
    expected: [
      `${R}:3:14 channels.x.type must be webhook, email, sms, nats, file or log, got "emial"; did you mean "email"?`,
      `${R}:4:25 channels.y.to must be an address or a non-empty list of addresses, got []`,
      `${R}:4:35 channels.y.smtp must be a URL starting with smtp:// or smtps://`,
      `${R}:5:6 channels.z.url is required for a webhook channel`,
      `${R}:5:23 unknown key "urll" in channel "z"; did you mean "url"?`,
      `${R}:6:6 channels.w.type is required`,
    ],
  },
  {
    name: 'channel settings the notifier could not use, each at its setting (secrets and URLs never echoed)',
    text: [
      'version: 1',
      'channels:',
      '  noc:',
      '    type: webhook',
      '    url: "https://hooks.example.net/T0?token=abc"',
      '    secret: ""',
      '    timeout: 5',
      '    headers: { X Team: fraud }',
      '    rate: ten/1m',
      '    retry: { max: forever }',
      '  desk:',
      '    type: email',
      '    to: [fraud@example.net, " "]',
      '    smtp: "smtp://vigil:hunter2@:587"',
      '    digest: hourly',
      '  oncall: { type: sms, url: "http://[hunter2", to: +4917012345, auth: "" }',
      '  bus: { type: nats, subject: " ", retry: 1h }',
      '  hook: { type: webhook, url: "http://h/x", headers: { X-Key: { token: hunter2 } } }',
      'rules: []',
    ].join('\n'),
    expected: [
      `${R}:6:13 channels.noc.secret must be a non-empty text, got an empty text`,
      `${R}:7:14 channels.noc.timeout must be a duration such as 90s, 30m, 1h or 2d, got 5`,
      `${R}:8:14 channels.noc.headers must be a map of header name: value (a name is letters, digits and -), got "X Team"`,
      `${R}:9:11 channels.noc.rate must be N/DURATION such as 10/1m (at most N messages per DURATION), got "ten/1m"`,
      `${R}:10:19 channels.noc.retry.max must be a duration such as 90s, 30m, 1h or 2d, got "forever"`,
      `${R}:13:9 channels.desk.to must be an address or a non-empty list of addresses, got ["fraud@example.net"," "]`,
      `${R}:14:11 channels.desk.smtp must be a URL such as smtp://user:password@host:587 or smtps://host, got a text that is not one (not shown: it may hold a secret)`,
      `${R}:15:13 channels.desk.digest must be a duration such as 90s, 30m, 1h or 2d, got "hourly"`,
      `${R}:16:29 channels.oncall.url must be a URL starting with http:// or https://, got a text that is not one (not shown: it may hold a secret)`,
      `${R}:16:71 channels.oncall.auth must be a non-empty text, got an empty text`,
      `${R}:17:31 channels.bus.subject must be a text, got " "`,
      `${R}:17:43 channels.bus.retry must be { max: DURATION }, got "1h"`,
      `${R}:18:63 channels.hook.headers.X-Key must be a text, got a object`,
    ],
  },
  {
    name: 'duplicate YAML keys',
    text: 'version: 1\nrules:\n  - id: a\n    measure: count\n    window: day\n    limit: 1\n    limit: 2\nversion: 1\n',
    expected: [
      `${R}:7:5 duplicate key "limit"; first defined at line 6`,
      `${R}:8:1 duplicate key "version"; first defined at line 1`,
    ],
  },
  {
    name: 'YAML aliases are refused',
    text: 'version: 1\nlists:\n  a: &x [SO]\n  b: *x\nrules: []\n',
    expected: [`${R}:4:6 aliases (*x) are not supported in rules files; write the value out`],
  },
  {
    name: 'YAML syntax error: unclosed flow map',
    text: 'version: 1\nrules: [\n  { id: a, measure: count\n',
    expected: [`${R}:4:1 invalid YAML: Flow map in block collection must be sufficiently indented and end with a }`],
  },
  {
    name: 'YAML syntax error: bad indentation',
    text: 'version: 1\nrules:\n  - id: a\n    measure: count\n   window: day\n',
    expected: [`${R}:5:1 invalid YAML: Sequence item without - indicator`],
  },
  {
    name: 'YAML syntax error: tab indentation',
    text: 'version: 1\nrules:\n\t- id: a\n',
    expected: [`${R}:3:1 invalid YAML: Tabs are not allowed as indentation`],
  },
  {
    // The YAML lexer skips the line break inside "count\n    window" while recovering: the
    // problems after it were placed on line 4, past its end (4:30, 4:32).
    name: 'YAML syntax error: positions after a token that spans lines are on the right line',
    text: 'version: 1\nrules:\n  - id: a\n}   measure: count\n    window: day\n',
    expected: [
      `${R}:4:1 invalid YAML: Unexpected flow-map-end token in YAML stream: "}"`,
      `${R}:4:5 invalid YAML: Unexpected scalar token in YAML stream: "measure"`,
      `${R}:4:12 invalid YAML: Unexpected map-value-ind token in YAML stream: ":"`,
      `${R}:4:14 invalid YAML: Unexpected scalar token in YAML stream: "count\\n    window"`,
      `${R}:5:11 invalid YAML: Unexpected map-value-ind token in YAML stream: ":"`,
      `${R}:5:13 invalid YAML: Unexpected scalar token in YAML stream: "day"`,
    ],
  },
  {
    // It said `Source contains multiple documents; please use YAML.parseAllDocuments()`.
    name: 'YAML syntax error: a second document',
    text: 'version: 1\nrules: []\n---\nversion: 1\n',
    expected: [`${R}:3:1 invalid YAML: a second document starts here; the file must be one document`],
  },
  {
    // The whole token was quoted: a 20,000-character value made a 20,000-character message.
    name: 'YAML syntax error: a long token is clipped like any value',
    text: `version: 1\nrules:\n  - id: a\n} description: "${'a'.repeat(100)}"\n`,
    expected: [
      `${R}:4:1 invalid YAML: Unexpected flow-map-end token in YAML stream: "}"`,
      `${R}:4:3 invalid YAML: Unexpected scalar token in YAML stream: "description"`,
      `${R}:4:14 invalid YAML: Unexpected map-value-ind token in YAML stream: ":"`,
      `${R}:4:16 invalid YAML: Unexpected double-quoted-scalar token in YAML stream: "\\"${'a'.repeat(56)}…`,
    ],
  },
  {
    // A no-break space pasted into a key, a byte-order mark or a zero-width space: the message
    // read `unknown key "measu re"; did you mean "measure"?`, or the same word twice.
    name: 'invisible characters of a key are shown escaped',
    text: 'version: 1\nrules:\n  - id: a\n    measu\u00a0re: count\n    window: day\n    limit: 1\n    by\ufeff: account\n    where: { caller: [a], "\u200bcountry": DE }\n',
    expected: [
      `${R}:3:5 rules[0].measure is required`,
      `${R}:4:5 unknown key "measu\\u00a0re" in rule "a"; did you mean "measure"?`,
      `${R}:7:5 unknown key "by\\ufeff" in rule "a"; did you mean "by"?`,
      `${R}:8:27 unknown field "\\u200bcountry" in rules[0].where; did you mean "country"?`,
    ],
  },
  {
    // `secret:change-me` is one key to YAML (no space after the colon): the message showed it
    // whole, the channel's secret with it.
    name: 'a key glued to its value is shown up to the colon, with the fix',
    text: withRules('  - { id: a, measure: count, window: day, limit: 1 }').replace('  fraud-desk: { type: log }', '  fraud-desk: { type: webhook, url: "http://127.0.0.1/", secret:change-me }'),
    expected: [`${R}:7:58 unknown key "secret:…" in channel "fraud-desk"; did you mean "secret: …" (a space after the colon)?`],
  },
  {
    // A stray CR (a file edited on two systems) or a quoted key with a line break was printed
    // as is: the terminal broke the line or jumped back to its start.
    name: 'control characters of a key are shown escaped, each problem on one line',
    text: withRules('  - id: a', '    measure: count', '    window: day', '    lim\rit: 1', '  - { id: b, measure: count, window: day, limit: 1, where: { "a\\nb\\u0000": 1 } }'),
    expected: [
      `${R}:9:5 rules[0].limit is required (or adaptive: { over, factor, min })`,
      `${R}:12:5 unknown key "lim\\rit" in rule "a"; did you mean "limit"?`,
      `${R}:13:62 unknown field "a\\nb\\u0000" in rules[1].where`,
    ],
  },
  {
    name: 'several errors across the file come back at once, in file order',
    text: [
      'version: 1',
      'timezone: Mars/Olympus',
      'rules:',
      '  - id: a',
      '    measure: count',
      '    window: daily',
      '    limit: 1',
      '    notify: [desk]',
      '  - id: b',
      '    measure: sum(cst)',
      '    window: day',
      'channels:',
      '  desk2: { type: log }',
    ].join('\n'),
    expected: [
      `${R}:2:11 timezone must be an IANA time zone such as Europe/Berlin, got "Mars/Olympus"`,
      `${R}:6:13 rules[0].window must be minute, hour, day, week, month or { sliding: DURATION }, got "daily"; did you mean "day"?`,
      `${R}:8:14 unknown channel "desk" in rules[0].notify; did you mean "desk2"?`,
      `${R}:9:5 rules[1].limit is required (or adaptive: { over, factor, min })`,
      `${R}:10:14 unknown field "cst" in rules[1].measure; did you mean "cost"?`,
    ],
  }, {
    name: 'novelty, risk and shadow fields with the wrong values',
    text: 'risk: { half_life: soon }\n' + withRules(
      '  - { id: n1, measure: new(contry), window: day, limit: 0 }',
      '  - { id: n2, measure: new(country), window: day, limit: 0, history: forever }',
      '  - { id: n3, measure: count, window: day, limit: 0, history: 30d }',
      '  - { id: r1, measure: risk, window: day, limit: 10 }',
      '  - { id: r2, measure: risk(account), limit: 10 }'
    ),
    expected: [
      `${R}:1:20 risk.half_life must be a positive duration such as 90s, 30m, 1h or 2d, got "soon"`,
      `${R}:10:24 unknown field "contry" in rules[0].measure; did you mean "country"?`,
      `${R}:11:70 rules[1].history must be a positive duration such as 90s, 30m, 1h or 2d, got "forever"`,
      `${R}:12:54 rules[2].history applies only to measure new(FIELD), not to count`,
      `${R}:13:30 rules[3].window cannot be given with measure risk: the score decays with risk.half_life`,
      `${R}:14:24 rules[4].measure must be risk without arguments, got "risk(account)"`,
    ],
  },
];

const bad = suite('core/rules-parse: bad input');

for (const row of ROWS) {
  bad(row.name, () => {
    assert.equal(diagnosticsOf(row.text, row.files, row.file), row.expected);
  });
}

bad('collections nested too deeply for the YAML parser are refused with a message that says so', () => {
  // Where the parser's stack runs out depends on the machine: the line is certain, the column not.
  const got = diagnosticsOf(`version: 1\nrules: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
  assert.is(got.length, 1);
  assert.match(got[0] as string, /^rules\.yaml:2:\d+ invalid YAML: lists or maps nested too deeply to read \(Maximum call stack size exceeded\)$/);
});

bad('an empty file', () => {
  assert.equal(diagnosticsOf(''), [`${R}:1:1 the rules file must be a map of top-level keys (version, rules, …), got nothing`]);
});

bad('a limits file with many bad lines shows the first 20 and counts the rest', () => {
  const csv = Array.from({ length: 25 }, (_, i) => `k${i},x`).join('\n');
  const got = diagnosticsOf(withRules('  - { id: a, measure: count, window: day, limit: 1, limits_file: l.csv }'), { 'l.csv': csv });
  assert.is(got.length, 21);
  assert.is(got[0], 'l.csv:1:4 limit must be a number >= 0, got "x"');
  assert.is(got[19], 'l.csv:20:5 limit must be a number >= 0, got "x"');
  assert.is(got[20], `${R}:9:66 rules[0].limits_file "l.csv" has 5 more bad lines, not shown`);
});

bad('the error carries every diagnostic as data', () => {
  try {
    parseRules('version: 3\nrules: 5\n', 'x.yaml', memorySource());
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, InvalidRulesError);
    assert.equal((err as InvalidRulesError).diagnostics, [
      { file: 'x.yaml', line: 1, col: 10, message: 'version must be 1, got 3' },
      { file: 'x.yaml', line: 2, col: 8, message: 'rules must be a list of rules, got 5' },
    ]);
  }
});

bad.run();

// ---------------------------------------------------------------------------------------------

const hints = suite('core/rules-parse: suggestions (did-you-mean.ts)');

hints('edit distance counts insertions, deletions and substitutions', () => {
  assert.is(editDistance('windw', 'window'), 1);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('abcdef', 'uvwxyz', 2), 3);
});

hints('suggests only plausible typos', () => {
  assert.is(closest('windw', ['window', 'where']), 'window');
  assert.is(closest('Window', ['window']), 'window');
  assert.is(closest('by', ['id']), undefined);
  assert.is(closest('fortnight', ['minute', 'hour', 'day', 'week', 'month']), undefined);
  assert.is(closest('window', ['window']), undefined);
});

hints.run();
