import { tf } from '../backend/tf.js';
import type { ConnectionFeatures } from '../features/types.js';
import { UsageError } from '../errors.js';
import type { PrunableModel } from './prunable-model.js';

export interface PruneByScoresOptions {
  /** Each layer keeps at least this fraction of its weights (rounded up). Default 0.01. */
  minKeepPerLayer?: number;
  /** Each layer keeps at least this many weights, whatever its size. Default 4. */
  minKeepWeights?: number;
  /**
   * Protect one live input→output chain per output unit (class): the most important live weight into
   * each output unit, then the most important live weight into the unit that weight reads, and so on
   * down to the input. Guarantees every class stays reachable from the input. Default true.
   */
  protectPaths?: boolean;
}

export const PRUNE_BY_SCORES_DEFAULTS = Object.freeze({ minKeepPerLayer: 0.01, minKeepWeights: 4, protectPaths: true });

export interface PruneResult {
  /** Connections removed by this call. */
  removed: number;
  /** Global sparsity after the call (may stay below the target when the floors bind). */
  sparsity: number;
}

/**
 * Input unit (previous layer's output unit / channel) that flat kernel index `idx` reads.
 * Dense [in, out]: in = idx / out. Conv2D [kh, kw, cin, cout]: cin = (idx / cout) % cin.
 * A Dense layer after flatten reads channel `in % prevUnits` (channels-last flatten).
 */
function inputIndex(shape: number[], idx: number): number {
  const out = shape[shape.length - 1];
  const cin = shape[shape.length - 2];
  return Math.floor(idx / out) % cin;
}

/**
 * Removes the live connections with the HIGHEST scores (scores follow the Scorer convention:
 * higher = prune first), compared globally across layers, until the global sparsity reaches
 * `targetSparsity`. Already-pruned weights stay pruned.
 *
 * Floors, so that pruning never breaks the network:
 * - every layer keeps max(ceil(minKeepPerLayer · size), minKeepWeights) weights (or all it has left);
 * - with `protectPaths`, one chain of live weights per output unit is never removed, so every class
 *   keeps a live path from the input (and every layer keeps ≥ 1 live weight).
 * When the floors bind, the call stops short of the target and reports the sparsity it reached.
 *
 * Deterministic: ties in score are broken by layer, then by flat kernel index (lower first).
 * NaN scores are treated as "never prune first" (sorted last).
 */
export function pruneByScores(
  pm: PrunableModel,
  scores: Float32Array[],
  features: ConnectionFeatures,
  targetSparsity: number,
  options: PruneByScoresOptions = {},
): PruneResult {
  const o = { ...PRUNE_BY_SCORES_DEFAULTS, ...options };
  if (!(targetSparsity >= 0 && targetSparsity < 1)) {
    throw new UsageError(`target sparsity must be in [0, 1), got ${targetSparsity}`);
  }
  if (scores.length !== features.layers.length) {
    throw new UsageError(`expected ${features.layers.length} score arrays (one per feature layer), got ${scores.length}`);
  }
  const masks = pm.maskBytes();
  const total = pm.totalPrunable;
  const live = masks.map((m) => { let c = 0; for (let i = 0; i < m.length; i++) if (m[i] !== 0) c++; return c; });
  const pruned = total - live.reduce((a, b) => a + b, 0);
  const want = Math.min(total, Math.round(targetSparsity * total));
  const need = want - pruned;
  if (need <= 0) return { removed: 0, sparsity: pruned / total };

  const protectedSet = masks.map(() => new Set<number>());
  if (o.protectPaths) protectPaths(pm, masks, scores, features, protectedSet);
  const budget = pm.layers.map((l, i) => {
    const floor = Math.max(Math.ceil(o.minKeepPerLayer * l.size), o.minKeepWeights, protectedSet[i].size);
    return Math.max(0, live[i] - Math.min(floor, live[i]));
  });

  // Candidates per layer: every live, unprotected connection with a score (NaN: never prune first).
  const cand = features.layers.map((lf, k) => {
    const sc = scores[k];
    if (sc.length !== lf.count) {
      throw new UsageError(`scores for layer '${lf.name}' have ${sc.length} values, the layer has ${lf.count} live connections`);
    }
    const m = masks[lf.layer];
    const prot = protectedSet[lf.layer];
    let c = 0;
    let nan = false;
    for (let j = 0; j < lf.count; j++) {
      if (m[lf.indices[j]] !== 0 && !prot.has(lf.indices[j])) c++;
      if (Number.isNaN(sc[j])) nan = true;
    }
    // Every listed connection a candidate and every score a number (the usual case): the lists themselves,
    // not copies (8 bytes per connection less at the step's peak; selectHighest only reads them).
    if (c === lf.count && !nan) return { layer: lf.layer, idx: lf.indices, score: sc };
    const idx = new Int32Array(c);
    const score = new Float32Array(c);
    for (let j = 0, i = 0; j < lf.count; j++) {
      const at = lf.indices[j];
      if (m[at] === 0 || prot.has(at)) continue;
      idx[i] = at;
      score[i++] = Number.isNaN(sc[j]) ? -Infinity : sc[j];
    }
    return { layer: lf.layer, idx, score };
  });
  const picked = selectHighest(cand, budget, need);
  const changed = new Set<number>();
  let removed = 0;
  cand.forEach((c, k) => {
    for (const at of picked[k]) masks[c.layer][at] = 0;
    removed += picked[k].length;
    if (picked[k].length) changed.add(c.layer);
  });
  for (const l of changed) pm.setMask(l, tf.tensor(masks[l], pm.layers[l].shape, 'float32'));
  return { removed, sparsity: (pruned + removed) / total };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** A float32 as an unsigned integer of the same order (−∞ lowest, +∞ highest; no NaN). */
function keyOf(v: number): number {
  f32[0] = v;
  const b = u32[0];
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}
function valueOf(key: number): number {
  u32[0] = key & 0x80000000 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
  return f32[0];
}

/** Number of values ≥ t (or > t with `strict`) in an ascending array, by binary search. */
function countFrom(asc: Float32Array, t: number, strict = false): number {
  let lo = 0;
  let hi = asc.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (asc[mid] < t || (strict && asc[mid] === t)) lo = mid + 1;
    else hi = mid;
  }
  return asc.length - lo;
}

/**
 * The `need` candidates a global greedy takes — highest score first, ties by layer then kernel index,
 * skipping a layer once its `budget` is spent — without sorting all candidates together. Each layer's
 * scores are sorted on their own (a native typed-array sort); the score T* where the greedy stops is the
 * largest score with Σ_l min(budget_l, #{s ≥ T*}) ≥ need (found by bisection). Every layer then gives up
 * its scores above T* (only its own top ones when its budget binds), and the ties at T* go by layer, then
 * kernel index, as far as `need` and the budgets reach — exactly the greedy's choice. `cand` lists are in
 * layer order with ascending kernel indices; returns the kernel indices removed per list.
 */
export function selectHighest(
  cand: { layer: number; idx: Int32Array; score: Float32Array }[],
  budget: readonly number[],
  need: number,
): Int32Array[] {
  const asc = cand.map((c) => Float32Array.from(c.score).sort());
  const cap = cand.map((c) => Math.min(c.score.length, Math.max(0, budget[c.layer])));
  const take = cand.map(() => 0);
  if (need > 0) {
    const reach = (t: number) => asc.reduce((a, s, k) => a + Math.min(cap[k], countFrom(s, t)), 0);
    // Bisection over the float32 order (as sortable 32-bit keys): reach only changes at score values, so
    // the largest t with reach(t) ≥ need is itself a score. No merged copy of all scores is made.
    const lowest = asc.reduce((a, x) => (x.length && x[0] < a ? x[0] : a), Infinity);
    const highest = asc.reduce((a, x) => (x.length && x[x.length - 1] > a ? x[x.length - 1] : a), -Infinity);
    if (lowest === Infinity || reach(lowest) < need) {
      cap.forEach((n, k) => { take[k] = n; }); // the floors bind: every layer gives what it may
    } else {
      let lo = keyOf(lowest);
      let hi = keyOf(highest);
      while (lo < hi) {
        const mid = lo + Math.ceil((hi - lo) / 2);
        if (reach(valueOf(mid)) >= need) lo = mid;
        else hi = mid - 1;
      }
      const tStar = valueOf(lo);
      let left = need;
      asc.forEach((s, k) => { take[k] = Math.min(cap[k], countFrom(s, tStar, true)); left -= take[k]; });
      asc.forEach((s, k) => {
        const ties = countFrom(s, tStar) - countFrom(s, tStar, true);
        const n = Math.max(0, Math.min(cap[k] - take[k], ties, left));
        take[k] += n;
        left -= n;
      });
    }
  }
  // Each list gives its top take[k] by (score desc, index asc).
  return cand.map((c, k) => {
    const n = take[k];
    const out = new Int32Array(n);
    if (n === 0) return out;
    const u = asc[k][asc[k].length - n];
    let ties = n - countFrom(asc[k], u, true);
    let p = 0;
    for (let i = 0; i < c.score.length && p < n; i++) {
      const v = c.score[i];
      if (v > u || (v === u && ties-- > 0)) out[p++] = c.idx[i];
    }
    return out;
  });
}

/** Marks one live chain per output unit, choosing at each layer the lowest-score (most important) live weight. */
function protectPaths(
  pm: PrunableModel,
  masks: Uint8Array[],
  scores: Float32Array[],
  features: ConnectionFeatures,
  protectedSet: Set<number>[],
): void {
  // Full-size score per layer (Infinity where unknown or pruned: never chosen when a scored weight exists).
  const full = pm.layers.map((l) => new Float32Array(l.size).fill(Infinity));
  features.layers.forEach((lf, k) => {
    const f = full[lf.layer];
    const s = scores[k];
    for (let j = 0; j < lf.count; j++) f[lf.indices[j]] = Number.isNaN(s[j]) ? Infinity : s[j];
  });
  const L = pm.layers.length;
  const last = pm.layers[L - 1];
  for (let unit = 0; unit < last.units; unit++) {
    let u = unit;
    for (let li = L - 1; li >= 0; li--) {
      const l = pm.layers[li];
      const m = masks[li];
      const out = l.shape[l.shape.length - 1];
      let best = -1;
      let bestScore = Infinity;
      for (let idx = u; idx < l.size; idx += out) {
        if (m[idx] === 0) continue;
        const s = full[li][idx];
        if (best < 0 || s < bestScore) { best = idx; bestScore = s; }
      }
      if (best < 0) break; // this unit is already cut off: nothing to protect below it
      protectedSet[li].add(best);
      if (li > 0) u = inputIndex(l.shape, best) % pm.layers[li - 1].units;
    }
  }
}
