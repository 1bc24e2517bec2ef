import { UsageError } from '../errors.js';

/** Edit distance between `a` and `b` (insertions, deletions, substitutions), case and `-`/`_` ignored. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase().replace(/[-_]/g, '');
  const y = b.toLowerCase().replace(/[-_]/g, '');
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[y.length];
}

/**
 * One UsageError naming the keys of `o` that are not option names of `what`, each with the one likely meant:
 * `hints[key]` (another entry point's name for the same option, e.g. `ignoreColumns` where this one says
 * `ignore`), else the known name within two edits (a typo: `polcy`, `max_drop`).
 */
export function refuseUnknownKeys(o: object, known: readonly string[], what: string, hints: Readonly<Record<string, string>> = {}): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (!unknown.length) return;
  const like = (k: string) => {
    if (Object.hasOwn(hints, k)) return hints[k];
    const best = known.map((n) => ({ n, d: distance(k, n) })).sort((p, q) => p.d - q.d)[0];
    return best && best.d <= Math.min(2, Math.floor(k.length / 3)) ? best.n : undefined;
  };
  const named = unknown.map((k) => { const meant = like(k); return `'${k}'${meant ? ` (did you mean '${meant}'?)` : ''}`; });
  throw new UsageError(`unknown option${unknown.length > 1 ? 's' : ''} ${named.join(', ')}; ${what} takes ${known.join(', ')}`);
}
