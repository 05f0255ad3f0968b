/**
 * The words of a notification: the plain-text mail a fraud analyst reads, the short SMS, the
 * subject lines. Every message carries the alert id (or ids), so a receiver can drop a repeat.
 */
import type { Alert } from '../../core/alert.js';

const LABEL_WIDTH = 13;

function line (label: string, value: string): string {
  return `${`${label}:`.padEnd(LABEL_WIDTH)}${value}`;
}

/** One alert as the body of a mail, every field on its own line. */
export function alertText (a: Alert): string {
  const lines = [
    line('Rule', a.rule),
    line('Severity', a.severity),
    line('Key', `${a.key} (${a.by.join(', ')})`),
    line('Window', `${a.window.start} to ${a.window.end}`),
    line('Value', `${a.value} (limit ${a.limit})`),
    line('Record', `${a.record} at ${a.ts}`),
    line('Detected', a.detectedAt),
  ];
  if (a.description !== undefined && a.description !== '') lines.push(line('Description', a.description));
  lines.push(line('Alert id', a.id));
  return lines.join('\n');
}

export function alertSubject (a: Alert): string {
  return `[Vigil] ${a.severity}: ${a.rule} ${a.key} at ${a.value} (limit ${a.limit})`;
}

function countBySeverity (alerts: readonly Alert[]): string {
  const counts = new Map<string, number>();
  for (const a of alerts) counts.set(a.severity, (counts.get(a.severity) ?? 0) + 1);
  return ['critical', 'warning', 'info'].filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(', ');
}

export function digestSubject (alerts: readonly Alert[]): string {
  return `[Vigil] ${alerts.length} alert${alerts.length === 1 ? '' : 's'} (${countBySeverity(alerts)})`;
}

export function digestText (alerts: readonly Alert[]): string {
  const head = `${alerts.length} alert${alerts.length === 1 ? '' : 's'} (${countBySeverity(alerts)}), oldest first.`;
  return [head, ...alerts.map((a, i) => `--- ${i + 1} of ${alerts.length}: ${a.rule} ${a.key}\n${alertText(a)}`)].join('\n\n');
}

/** One line for an SMS: rule, key, value and limit. */
export function smsText (a: Alert): string {
  return `Vigil ${a.severity}: ${a.rule} key ${a.key} at ${a.value}, limit ${a.limit}`;
}

const SMS_MAX = 300;

export function smsDigestText (alerts: readonly Alert[]): string {
  let out = `Vigil: ${alerts.length} alerts (${countBySeverity(alerts)})`;
  let shown = 0;
  for (const a of alerts) {
    const part = `; ${a.rule} ${a.key} ${a.value}>${a.limit}`;
    if (out.length + part.length > SMS_MAX - 12) break;
    out += part;
    shown++;
  }
  return shown < alerts.length ? `${out}; +${alerts.length - shown} more` : out;
}
