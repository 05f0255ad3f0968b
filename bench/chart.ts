/**
 * Draws a load run's timeline as an SVG file written by hand (no canvas, no native module):
 * records/s on top, p50 and p99 record-to-processed latency (ms, log scale) below, against
 * seconds since the start. Used by `vigil bench --chart FILE.svg`.
 */
import type { TimelinePoint } from './load.js';

const W = 900;
const PANEL = 220;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;
const GAP = 60;

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt (v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`;
  if (v >= 1) return String(Math.round(v * 10) / 10);
  return v.toPrecision(2);
}

interface Series { readonly name: string, readonly color: string, readonly values: readonly number[] }

function panel (y0: number, title: string, xs: readonly number[], series: readonly Series[], log: boolean): string {
  const width = W - LEFT - RIGHT;
  const xMax = Math.max(1e-9, ...xs);
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = log ? Math.min(...all, 1) : 0;
  let hi = Math.max(...all, log ? 10 : 1);
  if (log) { lo = Math.pow(10, Math.floor(Math.log10(lo))); hi = Math.pow(10, Math.ceil(Math.log10(hi))); } else hi *= 1.1;
  const sy = (v: number): number => {
    const f = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
    return y0 + PANEL - f * PANEL;
  };
  const sx = (x: number): number => LEFT + (x / xMax) * width;
  const parts: string[] = [];
  parts.push(`<text x="${LEFT}" y="${y0 - 10}" font-size="14" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<rect x="${LEFT}" y="${y0}" width="${width}" height="${PANEL}" fill="none" stroke="#999"/>`);
  const ticks = log ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * Math.pow(10, i)) : [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  for (const t of ticks) {
    const y = sy(t);
    parts.push(`<line x1="${LEFT}" x2="${LEFT + width}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${LEFT - 6}" y="${y + 4}" font-size="11" text-anchor="end">${fmt(t)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const x = xMax * i / 5;
    parts.push(`<text x="${sx(x)}" y="${y0 + PANEL + 16}" font-size="11" text-anchor="middle">${x.toFixed(1)} s</text>`);
  }
  series.forEach((s, k) => {
    const pts = xs.map((x, i) => `${sx(x).toFixed(1)},${sy(s.values[i] ?? NaN).toFixed(1)}`).filter((p) => !p.includes('NaN')).join(' ');
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`);
    parts.push(`<text x="${LEFT + width - 10}" y="${y0 + 16 + k * 14}" font-size="12" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`);
  });
  return parts.join('\n');
}

export function timelineSvg (title: string, points: readonly TimelinePoint[]): string {
  const xs = points.map((p) => p.t);
  const h = TOP + 2 * PANEL + GAP + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${W / 2}" y="20" font-size="15" text-anchor="middle">${esc(title)}</text>`,
    panel(TOP + 15, 'records/s', xs, [{ name: 'records/s', color: '#1f77b4', values: points.map((p) => p.recordsPerSec) }], false),
    panel(TOP + 15 + PANEL + GAP, 'latency, arrival → processed (ms, log)', xs, [
      { name: 'p50', color: '#2ca02c', values: points.map((p) => p.p50Ms) },
      { name: 'p99', color: '#d62728', values: points.map((p) => p.p99Ms) },
    ], true),
    '</svg>',
    '',
  ].join('\n');
}
