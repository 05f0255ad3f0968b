// Builders for RulesConfig and UsageRecord objects, so engine tests need no YAML and no parser.
import type { RuleConfig, RulesConfig } from '../../core/rules-config.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { WEEKDAYS } from '../../core/usage-record.js';
import { Zone } from '../../core/zone.js';

export function rule (over: Partial<RuleConfig> & { id: string }): RuleConfig {
  return {
    by: [{ kind: 'field', field: 'account' }],
    measure: { kind: 'count' },
    window: { kind: 'calendar', unit: 'day' },
    limits: new Map(),
    severity: 'critical',
    minCount: 0,
    enabled: true,
    position: { line: 1, col: 1 },
    ...over,
  };
}

export function rules (list: RuleConfig[], over: Partial<RulesConfig> = {}): RulesConfig {
  return {
    version: 1,
    file: 'test.yaml',
    timezone: 'UTC',
    accountScoped: ['subscription', 'caller'],
    lateness: 3_600_000,
    lists: new Map(),
    groups: new Map(),
    channels: new Map(),
    rules: list,
    ...over,
  };
}

/** A record with derived fields filled from `zone`, as ingest would. */
export function record (over: Partial<UsageRecord> & { id: string, ts: number, account: string }, zone = new Zone('UTC')): UsageRecord {
  const local = zone.local(over.ts);
  return {
    service: 'voice',
    duration: 60,
    answered: true,
    direction: 'out',
    hour: local.hour,
    minuteOfDay: local.minuteOfDay,
    weekday: WEEKDAYS[local.weekday]!,
    group: [],
    ...over,
  };
}
