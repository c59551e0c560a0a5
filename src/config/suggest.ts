/**
 * "Did you mean …" for a mistyped name (a command, a flag, a config-autoscaler
 * key, an annotation). Candidates within an edit distance of 2 — cobra's
 * SuggestionsMinimumDistance — or that start with what was typed, as cobra
 * suggests; closest first. Case is ignored: `minscale` finds `minScale`.
 * Pure and dependency-free: the CLI loads it before any command.
 */

/** Suggestions at most this many edits away. */
export const SUGGESTION_MAX_DISTANCE = 2;

/**
 * The optimal-string-alignment form of the Damerau-Levenshtein distance:
 * insertions, deletions, substitutions and transpositions of neighbours
 * (`stable-windw` → `stable-window` is 1, `rnu` → `run` is 1).
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rows: the one before the previous is needed for transpositions.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
      current[j] = d;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length];
}

/** The candidates close to `typed`, closest first (ties in the candidates' order); [] when none is close. */
export function suggestions(typed: string, candidates: Iterable<string>, maxDistance = SUGGESTION_MAX_DISTANCE): string[] {
  const t = typed.toLowerCase();
  const found: { name: string; distance: number; order: number }[] = [];
  let order = 0;
  for (const name of candidates) {
    const c = name.toLowerCase();
    if (c === t) return [name];
    const distance = editDistance(t, c);
    // A prefix of at least two characters counts as close: `--stats` → `--stats-port`.
    if (distance <= maxDistance) found.push({ name, distance, order });
    else if (t.length >= 2 && c.startsWith(t)) found.push({ name, distance: maxDistance + 1, order });
    order++;
  }
  found.sort((x, y) => x.distance - y.distance || x.order - y.order);
  const best = found.length ? found[0].distance : 0;
  // Only the closest: `did you mean "run"?`, not every name two edits away.
  return [...new Set(found.filter((f) => f.distance === best).map((f) => f.name))];
}

/** ` (did you mean "x"?)`, ` (did you mean "x" or "y"?)`, or '' when nothing is close. `quote` formats each name. */
export function didYouMean(typed: string, candidates: Iterable<string>, quote: (name: string) => string = (n) => JSON.stringify(n)): string {
  const found = suggestions(typed, candidates).slice(0, 3).map(quote);
  if (found.length === 0) return '';
  const list = found.length === 1 ? found[0] : `${found.slice(0, -1).join(', ')} or ${found.at(-1)}`;
  return ` (did you mean ${list}?)`;
}
