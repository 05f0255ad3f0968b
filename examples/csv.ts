/**
 * The demo traffic as CSV (RFC 4180, a header row; what core/readers/csv.ts reads), for
 * `generate.js --format csv`: one column per record field of any line, `attrs.*` flattened to
 * `attrs.<name>` columns, empty cells for absent fields. A line that is not JSON (the
 * generator's cut-off write) becomes a row with too few fields, the CSV form of a cut-off
 * write, which the reader rejects.
 */
const ORDER = ['id', 'ts', 'account', 'subscription', 'caller', 'called', 'service', 'duration', 'answered', 'cost', 'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'group'];

function cell (v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function flatten (rec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'attrs' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [a, x] of Object.entries(v)) out[`attrs.${a}`] = x;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** JSON lines to CSV lines (header first): line i of the input is line i + 2 of the output. */
export function toCsv (lines: readonly string[]): string[] {
  const rows: Array<Record<string, unknown> | string> = lines.map((l) => {
    try {
      return flatten(JSON.parse(l) as Record<string, unknown>);
    } catch {
      return l;
    }
  });
  const seen = new Set<string>();
  for (const r of rows) if (typeof r !== 'string') for (const k of Object.keys(r)) seen.add(k);
  const columns = [...ORDER.filter((c) => seen.has(c)), ...[...seen].filter((c) => !ORDER.includes(c)).sort()];
  const out = [columns.join(',')];
  for (const r of rows) {
    if (typeof r === 'string') {
      // A cut-off write: the first few cells of what was there.
      out.push(r.replace(/[{}"]/g, '').split(',').slice(0, 3).map((x) => cell(x.split(':').pop())).join(','));
    } else {
      out.push(columns.map((c) => cell(r[c])).join(','));
    }
  }
  return out;
}
