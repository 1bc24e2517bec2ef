/**
 * Linear-time argsort of float32 values: the order `idx.sort((a, b) => v[a] - v[b] || a - b)` gives (ascending, ties by
 * index; −0 and +0 equal), or with `descending` the order of `(a, b) => v[b] - v[a] || a - b`, without a comparator call
 * per comparison — a stable LSD radix sort of the values' order-preserving bit patterns, 11 bits a pass. On the 9 M
 * weights of one layer of an 11 M-weight MLP the comparator sorts took seconds each, several per scoring pass (a new
 * user's scoring pass of 30–50 s, the scale benchmark's 3.4 s before the policy's domain rule mixed ranks into LAMP's).
 */
export function argsort(v: Float32Array, descending = false): Uint32Array {
  const n = v.length;
  let keys = new Uint32Array(n);
  const bits = new Uint32Array(v.buffer, v.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = bits[i] === 0x80000000 ? 0 : bits[i]; // −0 as +0
    // Negative floats: all bits flipped (larger magnitude sorts first); positive: the sign bit set.
    const k = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[i] = descending ? ~k >>> 0 : k;
  }
  let idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n < 2) return idx;
  let idxTmp = new Uint32Array(n);
  let keysTmp = new Uint32Array(n);
  // The three digits' counts in one read of the keys (a pass's scatter does not change them).
  const counts = [new Uint32Array(2049), new Uint32Array(2049), new Uint32Array(2049)];
  const [c0, c1, c2] = counts;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    c0[(k & 0x7ff) + 1]++;
    c1[((k >>> 11) & 0x7ff) + 1]++;
    c2[(k >>> 22) + 1]++;
  }
  for (let d = 0, shift = 0; d < 3; d++, shift += 11) {
    const count = counts[d];
    // A pass whose digit is the same for every value moves nothing.
    if (count.some((c) => c === n)) continue;
    for (let r = 0; r < 2048; r++) count[r + 1] += count[r];
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      const p = count[(k >>> shift) & 0x7ff]++;
      idxTmp[p] = idx[i];
      keysTmp[p] = k;
    }
    [idx, idxTmp] = [idxTmp, idx];
    [keys, keysTmp] = [keysTmp, keys];
  }
  return idx;
}
