/**
 * A regression tree as flat typed arrays, evaluated column-wise over Float32Array feature columns.
 *
 * Node i is a leaf when left[i] < 0 (its prediction is value[i]); otherwise rows with
 * column[feature[i]] < threshold[i] go to left[i] and the rest (including NaN) to right[i] — the same
 * rule as ml-cart's `classify`. Thresholds are float32 values, so comparing a float32 feature against
 * them is exact and gives the same branch in float32 and float64 arithmetic.
 */
export interface TreeArrays {
  feature: Int32Array;
  threshold: Float32Array;
  left: Int32Array;
  right: Int32Array;
  value: Float32Array;
}

/** The smallest float32 ≥ x. For float32 inputs v, `v < x` ⇔ `v < ceilFloat32(x)`. */
export function ceilFloat32(x: number): number {
  const f = Math.fround(x);
  if (!(f < x)) return f; // equal, or NaN
  return nextUpFloat32(f);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The next float32 above a float32 value. */
export function nextUpFloat32(f: number): number {
  if (f === Infinity || Number.isNaN(f)) return f;
  if (f === 0) return 1.401298464324817e-45;
  f32[0] = f;
  if (f > 0) u32[0] += 1;
  else u32[0] -= 1;
  return f32[0];
}

/** Depth of the deepest leaf (root alone = 0). Throws on malformed arrays (see validateTree). */
export function treeDepth(t: TreeArrays): number {
  let max = 0;
  const stack: number[] = [0, 0];
  while (stack.length) {
    const d = stack.pop()!;
    const k = stack.pop()!;
    if (t.left[k] < 0) { if (d > max) max = d; continue; }
    stack.push(t.left[k], d + 1, t.right[k], d + 1);
  }
  return max;
}

/**
 * Checks that the arrays describe one tree rooted at 0: equal lengths, children after their parent
 * (so no cycles), every node reached exactly once, feature indices in [0, numFeatures), finite leaf
 * values. Returns a problem description, or undefined when well-formed.
 */
export function validateTree(t: TreeArrays, numFeatures: number): string | undefined {
  const n = t.value.length;
  if (n === 0) return 'the tree has no nodes';
  for (const [name, a] of [['feature', t.feature], ['threshold', t.threshold], ['left', t.left], ['right', t.right]] as const) {
    if (a.length !== n) return `'${name}' has ${a.length} entries but 'value' has ${n}`;
  }
  const seen = new Uint8Array(n);
  seen[0] = 1;
  for (let i = 0; i < n; i++) {
    if (!seen[i]) return `node ${i} is not reachable from the root`;
    const l = t.left[i];
    const r = t.right[i];
    if (l < 0) {
      if (r >= 0) return `node ${i} has a right child but no left child`;
      if (!Number.isFinite(t.value[i])) return `leaf ${i} has a non-finite value`;
      continue;
    }
    if (!(l > i && r > i && l < n && r < n && l !== r)) return `node ${i} has invalid children ${l}, ${r}`;
    if (seen[l] || seen[r]) return `node ${i} shares a child with another node`;
    seen[l] = seen[r] = 1;
    if (!(t.feature[i] >= 0 && t.feature[i] < numFeatures)) return `node ${i} splits on feature ${t.feature[i]}, outside [0, ${numFeatures})`;
    if (Number.isNaN(t.threshold[i])) return `node ${i} has a NaN threshold`;
  }
  return undefined;
}

/** Deepest tree laid out as a perfect binary tree; deeper trees use pointer chasing. */
const MAX_PERFECT_DEPTH = 14;
/** Rows per block: the block's values of the used features stay in L2 while the tree runs. */
const BLOCK = 1024;

/** Secondary score added to predictions: epsilon · (1 − column[i]). */
export interface TieBreak {
  column: Float32Array;
  epsilon: number;
}

interface PerfectTree {
  /** Features the tree reads, in column-index order. */
  used: Int32Array;
  /** Per internal slot: position in `used`. */
  feature: Int32Array;
  threshold: Float32Array;
  leaf: Float32Array;
}

/**
 * A tree compiled for fast column-wise evaluation. Trees up to depth 14 are re-laid out as a perfect
 * binary tree (leaves above the bottom padded with copies), so every row takes exactly `depth` steps
 * with children at 2k+1 / 2k+2 and no data-dependent branch (`+(x < t)` compiles to a flag, not a
 * jump). Rows go a block at a time: the block's slices of the columns the tree reads are copied
 * (memcpy) into one small buffer, then all rows of the block advance level by level, so their
 * independent loads overlap instead of forming one long dependent chain per row.
 */
export class CompiledTree {
  readonly depth: number;
  readonly numNodes: number;
  private readonly perfect?: PerfectTree;

  constructor(readonly tree: TreeArrays) {
    this.depth = treeDepth(tree);
    this.numNodes = tree.value.length;
    if (this.depth <= MAX_PERFECT_DEPTH) this.perfect = perfectLayout(tree, this.depth);
  }

  /**
   * Prediction per row; `columns` are the feature columns (all the same length). With `tie`, each
   * prediction gets `tie.epsilon · (1 − tie.column[i])` added in the same pass (see policy.ts tieBreak).
   */
  evaluate(columns: readonly Float32Array[], out?: Float32Array, tie?: TieBreak): Float32Array {
    const n = columns.length ? columns[0].length : 0;
    const res = out ?? new Float32Array(n);
    if (n === 0) return res;
    if (this.perfect) evaluatePerfect(this.perfect, this.depth, columns, n, res, tie);
    else evaluatePointer(this.tree, columns, n, res, tie);
    return res;
  }
}

function perfectLayout(t: TreeArrays, depth: number): PerfectTree {
  const internal = (1 << depth) - 1;
  const usedSet = new Set<number>();
  for (let k = 0; k < t.value.length; k++) if (t.left[k] >= 0) usedSet.add(t.feature[k]);
  const used = Int32Array.from([...usedSet].sort((a, b) => a - b));
  const pos = new Map<number, number>();
  used.forEach((f, j) => pos.set(f, j));
  const feature = new Int32Array(Math.max(internal, 1));
  const threshold = new Float32Array(Math.max(internal, 1));
  const leaf = new Float32Array(1 << depth);
  // Walk (source node, perfect slot, level); a leaf above the bottom fills its whole subtree.
  const stack: number[] = [0, 0, 0];
  while (stack.length) {
    const lvl = stack.pop()!;
    const slot = stack.pop()!;
    const k = stack.pop()!;
    if (lvl === depth) { leaf[slot - internal] = t.value[k]; continue; }
    if (t.left[k] < 0) {
      // Padding: both children lead to the same source leaf, whatever the test says.
      stack.push(k, 2 * slot + 1, lvl + 1, k, 2 * slot + 2, lvl + 1);
    } else {
      feature[slot] = pos.get(t.feature[k])!;
      threshold[slot] = t.threshold[k];
      stack.push(t.left[k], 2 * slot + 1, lvl + 1, t.right[k], 2 * slot + 2, lvl + 1);
    }
  }
  return { used, feature, threshold, leaf };
}

function evaluatePerfect(
  p: PerfectTree, depth: number, columns: readonly Float32Array[], n: number, out: Float32Array, tie?: TieBreak,
): void {
  const { threshold, leaf } = p;
  const cols = Array.from(p.used, (f) => columns[f]);
  // Offset of each slot's feature inside the block buffer (feature-major: buf[j·BLOCK + i]).
  const offset = Int32Array.from(p.feature, (j) => j * BLOCK);
  const internal = (1 << depth) - 1;
  const buf = new Float32Array(BLOCK * Math.max(cols.length, 1));
  const node = new Int32Array(BLOCK);
  for (let start = 0; start < n; start += BLOCK) {
    const m = Math.min(BLOCK, n - start);
    for (let j = 0; j < cols.length; j++) buf.set(cols[j].subarray(start, start + m), j * BLOCK);
    node.fill(0, 0, m);
    for (let d = 0; d < depth; d++) {
      for (let i = 0; i < m; i++) {
        const k = node[i];
        // x < t → left (2k+1); otherwise, NaN included → right (2k+2).
        node[i] = 2 * k + 2 - +(buf[offset[k] + i] < threshold[k]);
      }
    }
    if (tie) {
      const c = tie.column, eps = tie.epsilon;
      for (let i = 0; i < m; i++) out[start + i] = leaf[node[i] - internal] + eps * (1 - c[start + i]);
    } else {
      for (let i = 0; i < m; i++) out[start + i] = leaf[node[i] - internal];
    }
  }
}

function evaluatePointer(t: TreeArrays, columns: readonly Float32Array[], n: number, out: Float32Array, tie?: TieBreak): void {
  const { feature, threshold, left, right, value } = t;
  for (let i = 0; i < n; i++) {
    let k = 0;
    while (left[k] >= 0) k = columns[feature[k]][i] < threshold[k] ? left[k] : right[k];
    out[i] = tie ? value[k] + tie.epsilon * (1 - tie.column[i]) : value[k];
  }
}
