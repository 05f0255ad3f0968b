/**
 * parseRules(): a rules file (YAML, or JSON, which is YAML) -> RulesConfig, or an
 * InvalidRulesError holding every problem in the file at once, in file order, each with its
 * line and column. The analyst fixes the whole file in one round instead of one error a run.
 * Top-level sections are read here; rules, filters, channels and the tariff have their own
 * modules. Lists are read before everything that refers to them, whatever order the file has.
 */
import { isSeq, parseDocument } from 'yaml';
import { isSupportedCountry } from 'libphonenumber-js/min';
import type { ChannelConfig, RuleConfig, RulesConfig, Tariff } from './rules-config.js';
import { InvalidRulesError } from './errors.js';
import { isValidZone } from './zone.js';
import { didYouMean } from './did-you-mean.js';
import type { Entry } from './rules-yaml.js';
import { Diagnostics, Reader, checkStructure, got, itemText } from './rules-yaml.js';
import { isField, unknownFieldHint } from './rules-fields.js';
import { resolveList } from './rules-filter.js';
import { parseRule } from './rules-rule.js';
import { parseChannels } from './rules-channels.js';
import { parseTariff } from './rules-tariff.js';
import type { RulesSource } from './rules-text.js';
import { DURATION_TEXT, parseDuration, parseListFile, unreadableReason } from './rules-text.js';

export type { RulesSource } from './rules-text.js';

const TOP_KEYS = [
  'version', 'timezone', 'account_scoped', 'home_country', 'lateness', 'risk', 'lists', 'groups', 'tariff', 'channels', 'rules',
] as const;
const NAME = /^[A-Za-z0-9_.-]+$/;
const DEFAULT_LATENESS_MS = 3_600_000;
const DEFAULT_HALF_LIFE_MS = 86_400_000;

/**
 * Parses and validates the rules file `text`, named `file` in messages. `source` reads the
 * list and limits files it refers to. Throws InvalidRulesError listing every problem.
 */
export function parseRules (text: string, file: string, source: RulesSource): RulesConfig {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  const d = new Diagnostics(file, text);
  if (doc.errors.length > 0) {
    // The tree after a syntax error is a guess; checking it would mostly report the guess.
    d.syntax(doc.errors);
    throw new InvalidRulesError(d.sorted());
  }
  const structure = checkStructure(doc.contents, d);
  if (structure.hasAliases) throw new InvalidRulesError(d.sorted());
  const r = new Reader(d, structure.skip);
  const config = readTop(doc.contents, file, source, r);
  if (d.count > 0 || config === undefined) throw new InvalidRulesError(d.sorted());
  return config;
}

function readTop (root: unknown, file: string, source: RulesSource, r: Reader): RulesConfig | undefined {
  const d = r.d;
  const entries = r.knownMap(root, 'the rules file', 'the rules file', TOP_KEYS, 'a map of top-level keys (version, rules, …)');
  if (entries === undefined) return undefined;
  const get = (key: string): Entry | undefined => entries.find((e) => e.key === key);

  const version = get('version');
  if (version === undefined) d.at(root, 'version is required (version: 1)');
  else r.number(version.value, 'version', '1', (n) => n === 1);

  let timezone = 'UTC';
  const tz = get('timezone');
  if (tz !== undefined) {
    const name = r.text(tz.value, 'timezone', 'an IANA time zone such as Europe/Berlin');
    if (name !== undefined && isValidZone(name)) timezone = name;
    else if (name !== undefined) {
      d.at(tz.value, `timezone must be an IANA time zone such as Europe/Berlin, got ${got(tz.value)}${didYouMean(name, Intl.supportedValuesOf('timeZone'))}`);
    }
  }

  let accountScoped: string[] = ['subscription', 'caller'];
  const scoped = get('account_scoped');
  if (scoped !== undefined) accountScoped = readFields(scoped.value, 'account_scoped', r);

  let homeCountry: string | undefined;
  const home = get('home_country');
  if (home !== undefined) {
    const expect = 'an ISO 3166-1 alpha-2 country code such as DE';
    const code = r.text(home.value, 'home_country', expect);
    if (code !== undefined && /^[A-Z]{2}$/.test(code) && isSupportedCountry(code)) homeCountry = code;
    else if (code !== undefined) {
      const upper = code.toUpperCase();
      const hint = upper !== code && /^[A-Z]{2}$/.test(upper) && isSupportedCountry(upper) ? `; did you mean "${upper}"?` : '';
      d.at(home.value, `home_country must be ${expect}, got ${got(home.value)}${hint}`);
    }
  }

  let lateness = DEFAULT_LATENESS_MS;
  const late = get('lateness');
  if (late !== undefined) {
    const text = r.text(late.value, 'lateness', DURATION_TEXT);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (ms !== undefined) lateness = ms;
    else if (text !== undefined) d.at(late.value, `lateness must be ${DURATION_TEXT}, got ${got(late.value)}`);
  }

  let halfLife = DEFAULT_HALF_LIFE_MS;
  const riskEntry = get('risk');
  if (riskEntry !== undefined) {
    const all = r.knownMap(riskEntry.value, 'risk', 'risk', ['half_life'], 'a map { half_life: DURATION }');
    const hl = all?.find((e) => e.key === 'half_life');
    if (all !== undefined && hl === undefined) d.at(riskEntry.value, 'risk.half_life is required (risk: { half_life: 24h })');
    const expect = `a positive ${DURATION_TEXT.replace(/^a /, '')}`;
    const text = hl === undefined ? undefined : r.text(hl.value, 'risk.half_life', expect);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (ms !== undefined && ms > 0) halfLife = ms;
    else if (text !== undefined && hl !== undefined) d.at(hl.value, `risk.half_life must be ${expect}, got ${got(hl.value)}`);
  }

  const listsEntry = get('lists');
  const lists = listsEntry === undefined ? new Map<string, string[]>() : readLists(listsEntry.value, source, r);
  const groupsEntry = get('groups');
  const groups = groupsEntry === undefined ? new Map<string, string[]>() : readGroups(groupsEntry.value, lists, r);
  const tariffEntry = get('tariff');
  const tariff: Tariff | undefined = tariffEntry === undefined ? undefined : parseTariff(tariffEntry.value, r);
  const channelsEntry = get('channels');
  const channels = channelsEntry === undefined ? new Map<string, ChannelConfig>() : parseChannels(channelsEntry.value, r);

  const rulesEntry = get('rules');
  const rules: RuleConfig[] = [];
  if (rulesEntry === undefined) d.at(root, 'rules is required (a list of rules)');
  else {
    const scope = { r, lists, groups, channels, source, file };
    const firstAt = new Map<string, unknown>();
    for (const [i, item] of (r.seq(rulesEntry.value, 'rules', 'a list of rules') ?? []).entries()) {
      const { rule, id } = parseRule(item, i, scope);
      if (id !== undefined) {
        const first = firstAt.get(id.text);
        if (first !== undefined) d.at(id.node, `duplicate rule id "${id.text}"; first defined at line ${d.lineOf(first)}`);
        else firstAt.set(id.text, id.node);
      }
      if (rule !== undefined) rules.push(rule);
    }
  }

  return {
    version: 1,
    file,
    timezone,
    accountScoped,
    ...(homeCountry !== undefined ? { homeCountry } : {}),
    lateness,
    // Only when written: a file without `risk` keeps the fingerprint its data folders were written with.
    ...(riskEntry !== undefined ? { risk: { halfLife } } : {}),
    lists,
    groups,
    ...(tariff !== undefined ? { tariff } : {}),
    channels,
    rules,
  };
}

function readFields (node: unknown, path: string, r: Reader): string[] {
  const out: string[] = [];
  for (const [i, item] of (r.seq(node, path, 'a list of record fields') ?? []).entries()) {
    const name = r.text(item, `${path}[${i}]`, 'a record field');
    if (name === undefined) continue;
    if (isField(name)) out.push(name);
    else r.d.at(item, `unknown field "${name}" in ${path}${unknownFieldHint(name)}`);
  }
  return out;
}

/**
 * Every list that has a name, even a broken one (then empty), so that references to it are
 * not reported a second time. Values are text as written: a list means the same inline and in
 * a file, and `+252` or `0049` must not turn into numbers.
 */
function readLists (node: unknown, source: RulesSource, r: Reader): Map<string, string[]> {
  const lists = new Map<string, string[]>();
  for (const { key: name, keyNode, value } of r.map(node, 'lists', 'a map of list name: [values] or { file: PATH }') ?? []) {
    const path = `lists.${name}`;
    lists.set(name, []);
    if (!NAME.test(name)) {
      r.d.at(keyNode, `${path}: a list name must be letters, digits, "_", "." or "-", got ${JSON.stringify(name)}`);
      continue;
    }
    if (!isSeq(value)) {
      const all = r.map(value, path, 'a list of values or { file: PATH }');
      const fileEntry = all === undefined ? undefined : r.onlyKnown(all, path, ['file']).find((e) => e.key === 'file');
      // An unknown key was reported already; an empty map was not.
      if (all?.length === 0) r.d.at(value, `${path} must be a list of values or { file: PATH }, got {}`);
      if (fileEntry === undefined) continue;
      const at = `${path}.file`;
      const path2 = r.text(fileEntry.value, at, 'a file name');
      if (path2 === undefined) continue;
      try {
        lists.set(name, parseListFile(source.readFile(path2)));
      } catch (err) {
        r.d.at(fileEntry.value, `${at} "${path2}" cannot be read: ${unreadableReason(err)}`);
      }
      continue;
    }
    lists.set(name, listValues(value.items, path, r));
  }
  return lists;
}

function listValues (items: readonly unknown[], path: string, r: Reader): string[] {
  const values: string[] = [];
  for (const [i, item] of items.entries()) {
    const text = itemText(item);
    if (text === undefined) r.d.at(item, `${path}[${i}] must be a value, got ${got(item)}`);
    else if (text.startsWith('$')) r.d.at(item, `${path}[${i}] must be a value, got ${got(item)}; a list cannot refer to another list`);
    else values.push(text);
  }
  return values;
}

/** group -> accounts; a group is a list of accounts or a `$list` reference. */
function readGroups (node: unknown, lists: ReadonlyMap<string, readonly string[]>, r: Reader): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const { key: name, value } of r.map(node, 'groups', 'a map of group name: [accounts]') ?? []) {
    const path = `groups.${name}`;
    groups.set(name, []);
    const ref = itemText(value);
    if (ref?.startsWith('$') === true) {
      groups.set(name, [...(resolveList(ref, value, path, { r, lists, groups }) ?? [])]);
      continue;
    }
    const items = r.seq(value, path, 'a list of accounts or a $list reference');
    if (items !== undefined) groups.set(name, listValues(items, path, r));
  }
  return groups;
}
