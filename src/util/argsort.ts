/**
 * Linear-time sorting of float32 values on the host: an order key per value (its bits made unsigned and monotone) and
 * a stable LSD radix sort of those keys. Used by the magnitude ranks (features/ranks.ts), the selection's radix select
 * (pruning/select.ts) and the ranks a learned correction of a prior mixes (policy/allocated.ts, LAMP in baselines.ts).
 */

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const DIGIT = RADIX - 1;

/**
 * Positions 0…n−1 in ascending order of `keys` (unsigned 32-bit), ties by position: an LSD radix sort in
 * passes of 11 bits, skipping passes whose digit is the same for every key. Consumes `keys` (reordered).
 */
export function stableOrder(keys: Uint32Array): Int32Array {
  const n = keys.length;
  const few = n >= FEW_MIN ? fewKeysOrder(keys) : undefined;
  if (few) return few;
  let order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let tmpOrder = new Int32Array(n);
  let src = keys;
  let tmp = new Uint32Array(n);
  const count = new Uint32Array(RADIX);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i] >>> shift) & DIGIT]++;
    if (count[(src[0] >>> shift) & DIGIT] === n) continue; // one digit value: the pass would not move anything
    let sum = 0;
    for (let d = 0; d < RADIX; d++) { const c = count[d]; count[d] = sum; sum += c; }
    for (let i = 0; i < n; i++) {
      const k = src[i];
      const at = count[(k >>> shift) & DIGIT]++;
      tmp[at] = k;
      tmpOrder[at] = order[i];
    }
    [src, tmp] = [tmp, src];
    [order, tmpOrder] = [tmpOrder, order];
  }
  return order;
}

/** Below this many keys the radix sort is quick enough that the few-keys attempt is not worth its table. */
const FEW_MIN = 1 << 16;
/** At most this many distinct keys for fewKeysOrder (a learned policy's scores: a tree's leaf values). */
const FEW_KEYS = 4096;
const TABLE_BITS = 13; // 8192 slots: at most half full
const EMPTY = -1;

/**
 * stableOrder where the keys take at most FEW_KEYS distinct values, else undefined: a counting sort over a hash table
 * of the distinct keys (two passes over the keys instead of the radix sort's six; a tree policy's scores of a 9 M-weight
 * layer of 60 leaf values: 0.27 → 0.15 s, timed once by hand, not a bench of the repo). Keys are not consumed.
 */
function fewKeysOrder(keys: Uint32Array): Int32Array | undefined {
  const n = keys.length;
  const size = 1 << TABLE_BITS;
  const mask = size - 1;
  const tableKey = new Uint32Array(size);
  const tableSlot = new Int32Array(size).fill(EMPTY);
  const distinct: number[] = [];
  const counts = new Float64Array(FEW_KEYS);
  const slotOf = (k: number): number => {
    let h = Math.imul(k, 0x9e3779b1) >>> (32 - TABLE_BITS);
    for (;;) {
      const s = tableSlot[h];
      if (s === EMPTY) {
        if (distinct.length === FEW_KEYS) return EMPTY;
        tableKey[h] = k;
        tableSlot[h] = distinct.length;
        distinct.push(k);
        return distinct.length - 1;
      }
      if (tableKey[h] === k) return s;
      h = (h + 1) & mask;
    }
  };
  for (let i = 0; i < n; i++) {
    const s = slotOf(keys[i]);
    if (s === EMPTY) return undefined;
    counts[s]++;
  }
  // Each distinct key's first position in the output, in ascending key order.
  const byKey = distinct.map((k, s) => ({ k, s })).sort((a, b) => a.k - b.k);
  const start = new Float64Array(distinct.length);
  let sum = 0;
  for (const { s } of byKey) { start[s] = sum; sum += counts[s]; }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[start[slotOf(keys[i])]++] = i;
  return order;
}

/**
 * Order key of a float32 given as its bits: an unsigned 32-bit integer in the order of the values (−0 as +0,
 * NaN as −∞, i.e. never prune first).
 */
export function keyOfBits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x007fffff; // NaN → the key of −∞
  if (bits === 0x80000000) return 0x80000000; // −0 → +0
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/**
 * The order `idx.sort((a, b) => v[a] - v[b] || a - b)` gives (ascending, ties by index; −0 and +0 equal; NaN first, as
 * −∞), or with `descending` the order of `(a, b) => v[b] - v[a] || a - b`, in linear time (keyOfBits, stableOrder). On
 * the 9 M weights of one layer of an 11 M-weight MLP the comparator sorts took seconds each, several per scoring pass
 * (a new user's scoring pass of 30–50 s).
 */
export function argsort(v: Float32Array, descending = false): Int32Array {
  const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const keys = new Uint32Array(v.length);
  for (let i = 0; i < v.length; i++) keys[i] = descending ? ~keyOfBits(bits[i]) >>> 0 : keyOfBits(bits[i]);
  return stableOrder(keys);
}
