/**
 * `channels:` (notifications.md, "Channels"): each channel's type and the settings that type
 * needs. Settings are kept as written for the notifier, and each is also read here the way the
 * notifier reads it (channel-settings.ts), so a file that passes has channels the notifier can
 * start. Messages about URLs and secrets never echo the value, since SMTP URLs and gateway
 * URLs may carry passwords or tokens.
 */
import type { ChannelConfig, Severity } from './rules-config.js';
import { SEVERITIES } from './rules-config.js';
import { readChannelSetting } from './channel-settings.js';
import { InvalidChannelError } from './errors.js';
import type { Node } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import type { Reader } from './rules-yaml.js';
import { got, itemText, textOf } from './rules-yaml.js';

const TYPES = ['webhook', 'email', 'sms', 'nats', 'file', 'log'] as const;
type ChannelType = typeof TYPES[number];

const SETTINGS: Readonly<Record<ChannelType, { required: readonly string[], optional: readonly string[] }>> = {
  webhook: { required: ['url'], optional: ['secret', 'headers', 'timeout'] },
  email: { required: ['to', 'smtp'], optional: ['from'] },
  sms: { required: ['url', 'to'], optional: ['auth'] },
  nats: { required: ['subject'], optional: [] },
  file: { required: ['path'], optional: [] },
  log: { required: [], optional: [] },
};
/** Settings every channel may have. */
const COMMON = ['min_severity', 'rate', 'digest', 'retry'];
/** Settings that hold addresses or numbers: `to: +4917012345` is a number as text, not 4917012345. */
const AS_TEXT = new Set(['to', 'from']);

const URL_SCHEMES: Readonly<Record<string, readonly string[]>> = {
  url: ['http://', 'https://'],
  smtp: ['smtp://', 'smtps://'],
};

/** A node as plain data; scalars of `asText` settings keep their text as written. */
function toPlain (node: unknown, asText: boolean): unknown {
  if (isScalar(node)) return asText && node.value !== null ? textOf(node) : node.value;
  if (isSeq(node)) return node.items.map((item) => toPlain(item, asText));
  if (isMap(node)) return (node as Node).toJSON();
  return null;
}

/** Every channel that has a name, valid or not, so that `notify` checks do not cascade. */
export function parseChannels (node: unknown, r: Reader): Map<string, ChannelConfig> {
  const out = new Map<string, ChannelConfig>();
  for (const { key: name, value } of r.map(node, 'channels', 'a map of channel name: { type, ... }') ?? []) {
    const path = `channels.${name}`;
    const entries = r.map(value, path, `a map { type: ${TYPES.join('|')}, ... }`);
    const typeEntry = entries?.find((e) => e.key === 'type');
    let type: ChannelType | undefined;
    if (entries !== undefined && typeEntry === undefined) r.d.at(value, `${path}.type is required`);
    if (typeEntry !== undefined) type = r.oneOf(typeEntry.value, `${path}.type`, TYPES);
    const settings: Record<string, unknown> = {};
    if (entries !== undefined && type !== undefined) {
      const { required, optional } = SETTINGS[type];
      const known = ['type', ...required, ...optional, ...COMMON];
      for (const e of r.onlyKnown(entries, `channel "${name}"`, known)) {
        if (e.key === 'type') continue;
        const at = `${path}.${e.key}`;
        if (!checkSetting(e.key, e.value, at, r)) continue;
        const value = toPlain(e.value, AS_TEXT.has(e.key));
        if (usable(e.key, value, e.value, at, r)) settings[e.key] = value;
      }
      for (const key of required) {
        if (!entries.some((e) => e.key === key)) r.d.at(value, `${path}.${key} is required for a ${type} channel`);
      }
    }
    out.set(name, { type: type ?? 'log', settings });
  }
  return out;
}

function checkSetting (key: string, node: unknown, path: string, r: Reader): boolean {
  const schemes = URL_SCHEMES[key];
  if (schemes !== undefined) {
    const text = isScalar(node) && typeof node.value === 'string' ? node.value : '';
    if (schemes.some((s) => text.startsWith(s) && text.length > s.length)) return true;
    r.d.at(node, `${path} must be a URL starting with ${schemes.join(' or ')}`);
    return false;
  }
  if (key === 'to') {
    const items = isSeq(node) ? node.items : [node];
    if (items.length > 0 && items.every((item) => itemText(item) !== undefined)) return true;
    r.d.at(node, `${path} must be an address or a non-empty list of addresses, got ${got(node)}`);
    return false;
  }
  if (key === 'min_severity') return r.oneOf<Severity>(node, path, SEVERITIES) !== undefined;
  if (key === 'subject' || key === 'path' || key === 'from') return r.text(node, path) !== undefined;
  return true;
}

/** Whether the notifier can use the setting; if not, reports its message at the setting (or at the part of it named). */
function usable (key: string, value: unknown, node: unknown, path: string, r: Reader): boolean {
  try {
    readChannelSetting(path, key, value);
    return true;
  } catch (err) {
    if (!(err instanceof InvalidChannelError)) throw err;
    r.d.at(partAt(node, path, err.path), err.message);
    return false;
  }
}

/** The node of `part` (`channels.c.retry.max`) inside the setting `node` at `path` (`channels.c.retry`); the setting itself otherwise. */
function partAt (node: unknown, path: string, part: string | undefined): unknown {
  if (part === undefined || !part.startsWith(`${path}.`) || !isMap(node)) return node;
  const key = part.slice(path.length + 1);
  const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  return pair?.value ?? node;
}
