import { keyOfBits } from '../util/argsort.js';
import type { ConnectionFeatures } from '../features/types.js';
import { UsageError } from '../errors.js';
import type { PrunableModel } from './prunable-model.js';

export interface PruneByScoresOptions {
  /** Each layer keeps at least this fraction of its weights (rounded up). Default 0.01, or half of the fraction the target keeps where that is less (0.005 at 0.99). */
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
 * - every layer keeps max(ceil(minKeepPerLayer · size), minKeepWeights) weights (or all it has left), the
 *   default fraction min(1 %, (1 − target)/2): the floors never hold more than half of what the target keeps;
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
  // At least the target (never 79.97 % for 0.8): rounded up, a product within 1e-6 of a whole number taken as it.
  const want = Math.min(total, Math.ceil(targetSparsity * total - 1e-6));
  const need = want - pruned;
  if (need <= 0) return { removed: 0, sparsity: pruned / total };

  const protectedSet = masks.map(() => new Set<number>());
  if (o.protectPaths) protectPaths(pm, masks, scores, features, protectedSet);
  // The default floor never takes more than half of what the target keeps: at 0.99 a 1 % floor in every layer
  // would leave no allocation to the scores (every layer at exactly 99 %: LeNet-5 collapsed to 21–54 %).
  const keepFraction = options.minKeepPerLayer ?? defaultKeepFraction(targetSparsity);
  const budget = pm.layers.map((l, i) => {
    const floor = Math.max(layerFloor(l.size, keepFraction, o.minKeepWeights), protectedSet[i].size);
    return Math.max(0, live[i] - Math.min(floor, live[i]));
  });

  // Candidates per layer: every live, unprotected connection with a score (NaN: never prune first). The
  // score and index lists themselves, with the positions that are not candidates listed apart (few: the
  // protected chain, and weights pruned since the features were taken): no per-connection copies.
  const cand = features.layers.map((lf, k) => {
    const sc = scores[k];
    if (sc.length !== lf.count) {
      throw new UsageError(`scores for layer '${lf.name}' have ${sc.length} values, the layer has ${lf.count} live connections`);
    }
    const m = masks[lf.layer];
    const prot = Int32Array.from(protectedSet[lf.layer]).sort();
    const skip: number[] = [];
    for (let j = 0, p = 0; j < lf.count; j++) {
      const at = lf.indices[j];
      while (p < prot.length && prot[p] < at) p++;
      if (m[at] === 0 || (p < prot.length && prot[p] === at)) skip.push(j);
    }
    return { layer: lf.layer, idx: lf.indices, score: sc, skip: Int32Array.from(skip) };
  });
  const picked = selectHighest(cand, budget, need);
  const changed = new Set<number>();
  let removed = 0;
  cand.forEach((c, k) => {
    for (const at of picked[k]) masks[c.layer][at] = 0;
    removed += picked[k].length;
    if (picked[k].length) changed.add(c.layer);
  });
  for (const l of changed) pm.setMaskBytes(l, masks[l]);
  return { removed, sparsity: (pruned + removed) / total };
}

interface KeyedList { bits: Uint32Array; skip: Int32Array }

/**
 * Digits of the radix select, most significant first: [shift, width]. Two passes of 16 bits (a 256 KB
 * histogram per list, L2-resident) cost less than three of 11 on large layers: each pass reads every key.
 */
const LEVELS: readonly (readonly [number, number])[] = [[16, 16], [0, 16]];

/**
 * Radix select over the order keys of several lists: the largest key t with Σ_k min(cap_k, #{key ≥ t}) ≥ need,
 * and per list the counts of keys above t and equal to t; null when even the whole lists (capped) fall short.
 * Two counting passes over the keys (16 bits each); positions in `skip` are not counted.
 */
function selectKey(lists: KeyedList[], cap: readonly number[], need: number): { key: number; above: number[]; at: number[] } | null {
  let prefix = 0;
  let fixed = 0;
  const above = lists.map(() => 0);
  let at: number[] = [];
  for (const [shift, width] of LEVELS) {
    const digit = (1 << width) - 1;
    const hist = lists.map(({ bits, skip }) => {
      const h = new Int32Array(digit + 1);
      for (let j = 0; j < bits.length; j++) {
        const key = keyOfBits(bits[j]);
        if (((key & fixed) >>> 0) === prefix) h[(key >>> shift) & digit]++;
      }
      for (let s = 0; s < skip.length; s++) {
        const key = keyOfBits(bits[skip[s]]);
        if (((key & fixed) >>> 0) === prefix) h[(key >>> shift) & digit]--;
      }
      return h;
    });
    // The largest digit d whose bucket's lowest key still reaches `need`.
    const suffix = above.slice();
    let chosen = -1;
    for (let d = digit; d >= 0 && chosen < 0; d--) {
      let reach = 0;
      for (let k = 0; k < lists.length; k++) {
        suffix[k] += hist[k][d];
        reach += Math.min(cap[k], suffix[k]);
      }
      if (reach >= need) chosen = d;
    }
    if (chosen < 0) return null; // only at the first level: below it, digit 0 reaches what the bucket did
    for (let k = 0; k < lists.length; k++) above[k] = suffix[k] - hist[k][chosen];
    at = hist.map((h) => h[chosen]);
    prefix = (prefix | (chosen << shift)) >>> 0;
    fixed = (fixed | (digit << shift)) >>> 0;
  }
  return { key: prefix, above, at };
}

/**
 * The `need` candidates a global greedy takes — highest score first, ties by layer then kernel index,
 * skipping a layer once its `budget` is spent — without sorting anything. The score T* where the greedy
 * stops is the largest score with Σ_l min(budget_l, #{s ≥ T*}) ≥ need, found by a radix select over the
 * scores' order keys (selectKey: two counting passes). Every layer then gives up its scores above T*
 * (only its own top ones when its budget binds: a radix select in that layer alone), and the ties at T*
 * go by layer, then kernel index, as far as `need` and the budgets reach — exactly the greedy's choice.
 * `cand` lists are in layer order with ascending kernel indices; positions in `skip` (ascending) are not
 * candidates. Returns the kernel indices removed per list.
 */
export function selectHighest(
  cand: { layer: number; idx: Int32Array; score: Float32Array; skip?: Int32Array }[],
  budget: readonly number[],
  need: number,
): Int32Array[] {
  const lists = cand.map((c) => ({ bits: new Uint32Array(c.score.buffer, c.score.byteOffset, c.score.length), skip: c.skip ?? new Int32Array(0) }));
  const cap = cand.map((c, k) => Math.min(c.score.length - lists[k].skip.length, Math.max(0, budget[c.layer])));
  const take = cand.map(() => 0);
  const found = need > 0 ? selectKey(lists, cap, need) : null;
  if (need > 0 && found === null) {
    cap.forEach((n, k) => { take[k] = n; }); // the floors bind: every layer gives what it may
  } else if (found) {
    let left = need;
    cand.forEach((_, k) => { take[k] = Math.min(cap[k], found.above[k]); left -= take[k]; });
    cand.forEach((_, k) => {
      const n = Math.max(0, Math.min(cap[k] - take[k], found.at[k], left));
      take[k] += n;
      left -= n;
    });
  }
  return cand.map((c, k) => {
    const n = take[k];
    if (n === 0) return new Int32Array(0);
    // The list's own n-th highest key: T* unless its budget stopped it above T*.
    const own = found && n >= found.above[k] ? { key: found.key, above: found.above[k] } : (() => {
      const r = selectKey([lists[k]], [Infinity], n)!;
      return { key: r.key, above: r.above[0] };
    })();
    const out = new Int32Array(n);
    const { bits, skip } = lists[k];
    let ties = n - own.above; // keys equal to the cut that go: the first ones, in kernel index order
    let p = 0;
    for (let i = 0, s = 0; i < bits.length && p < n; i++) {
      if (s < skip.length && skip[s] === i) { s++; continue; }
      const key = keyOfBits(bits[i]);
      if (key > own.key || (key === own.key && ties-- > 0)) out[p++] = c.idx[i];
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
  // A weight's score (Infinity where unknown or pruned: never chosen when a scored weight exists), looked up
  // by binary search in its layer's ascending live indices: no full-size copy of the scores.
  const listOf = new Map<number, number>();
  features.layers.forEach((lf, k) => listOf.set(lf.layer, k));
  const scoreAt = (li: number, idx: number): number => {
    const k = listOf.get(li);
    if (k === undefined) return Infinity;
    const ix = features.layers[k].indices;
    let lo = 0;
    let hi = ix.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ix[mid] < idx) lo = mid + 1;
      else hi = mid;
    }
    if (lo === ix.length || ix[lo] !== idx) return Infinity;
    const v = scores[k][lo];
    return Number.isNaN(v) ? Infinity : v;
  };
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
        const s = scoreAt(li, idx);
        if (best < 0 || s < bestScore) { best = idx; bestScore = s; }
      }
      if (best < 0) break; // this unit is already cut off: nothing to protect below it
      protectedSet[li].add(best);
      if (li > 0) u = inputIndex(l.shape, best) % pm.layers[li - 1].units;
    }
  }
}

/** The default floor's fraction at a target: 1 %, or half of what the target keeps where that is less. */
export function defaultKeepFraction(target: number): number {
  return Math.min(PRUNE_BY_SCORES_DEFAULTS.minKeepPerLayer, (1 - target) / 2);
}

/** Weights a layer of `size` keeps: the fraction rounded up (a product within 1e-6 of a whole number taken as it, as the target is), at least `minKeepWeights`. */
function layerFloor(size: number, keepFraction: number, minKeepWeights: number): number {
  return Math.max(Math.ceil(keepFraction * size - 1e-6), minKeepWeights);
}

/**
 * The most sparsity pruneByScores can reach at `target` with its default floors (the protected path aside: within
 * them), weights already pruned counting as pruned.
 */
export function mostByConnections(pm: PrunableModel, target: number): number {
  const kf = defaultKeepFraction(target);
  const s = pm.sparsity();
  const kept = s.layers.reduce((a, l) => a + Math.min(l.size - l.pruned, layerFloor(l.size, kf, PRUNE_BY_SCORES_DEFAULTS.minKeepWeights)), 0);
  return 1 - kept / s.total;
}
