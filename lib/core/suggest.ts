/** Nearest-word suggestions for unknown names ("did you mean …"). */

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? previous : 1 + Math.min(previous, row[j]!, row[j - 1]!);
      previous = current;
    }
  }
  return row[b.length]!;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The known word closest to `word`, when it is close enough to be a likely typo. */
export function nearest(word: string, known: Iterable<string>): string | undefined {
  const candidates = [...known];
  const lower = word.toLowerCase();
  let bestShared = 0;
  let byPrefix: string | undefined;
  for (const candidate of candidates) {
    const shared = commonPrefix(lower, candidate.toLowerCase());
    if (shared > bestShared) {
      bestShared = shared;
      byPrefix = candidate;
    }
  }
  if (bestShared >= 3 && bestShared >= Math.ceil(lower.length * 0.6)) return byPrefix;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(best.length / 3));
  return bestDistance <= limit ? best : undefined;
}
