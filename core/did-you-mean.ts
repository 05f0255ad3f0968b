/**
 * "did you mean" suggestions for misspelt names in rules files. Edit distance is the
 * Levenshtein distance (insertions, deletions, substitutions), computed with one rolling row.
 */

/** Levenshtein distance between `a` and `b`; stops early and returns `max + 1` once it exceeds `max`. */
export function editDistance (a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * The candidate closest to `word`, if it is close enough to be a plausible typo: at most 2
 * edits, and fewer than half the word's length (so `by` never "means" `id`). A match that
 * differs only in case always counts.
 */
export function closest (word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    const d = c.toLowerCase() === lower ? 0 : editDistance(lower, c.toLowerCase(), 2);
    if (d < bestDistance && (d === 0 || (d <= 2 && d * 2 < Math.max(word.length, c.length)))) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` when a close candidate exists, else the empty string. */
export function didYouMean (word: string, candidates: Iterable<string>, prefix = ''): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : `; did you mean "${prefix}${c}"?`;
}
