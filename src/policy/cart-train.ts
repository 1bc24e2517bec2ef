import { createRequire } from 'node:module';
import { DataError, UsageError } from '../errors.js';
import { Rng } from '../util/random.js';
import { ceilFloat32, type TreeArrays } from './compiled-tree.js';

const require = createRequire(import.meta.url);

export type CartEngine = 'fast' | 'ml-cart';

/** ml-cart's JSON tree node (declared here too so that public declarations need no ml-cart types). */
export interface MlCartNode {
  splitValue?: number;
  splitColumn?: number;
  gain?: number;
  distribution?: number | number[][];
  left?: MlCartNode;
  right?: MlCartNode;
}

export interface MlCartRegressionJSON {
  name: 'DTRegression';
  options: { gainFunction?: 'regression'; splitFunction?: 'mean'; minNumSamples?: number; maxDepth?: number; kind?: 'regression' };
  root: MlCartNode;
}

/** What autoprune uses of an ml-cart DecisionTreeRegression. */
export interface MlCartRegressor {
  predict(rows: number[][]): number[];
  toJSON(): MlCartRegressionJSON;
}

export interface CartOptions {
  /** Deepest level a split may create (root = 0), as in ml-cart. Default 10. */
  maxDepth?: number;
  /** A node with this many rows or fewer becomes a leaf (ml-cart's `minNumSamples`). Default 20. */
  minNumSamples?: number;
  /** Each child of a split keeps at least this many rows ('fast' engine). Default 5. */
  minLeafSamples?: number;
  /** A split must lower the squared error by at least this fraction of the root's ('fast' engine). Default 1e-6. */
  minGain?: number;
  /**
   * 'fast': exact CART on presorted columns, O(depth · features · rows) — what real meta-datasets need.
   * 'ml-cart': ml-cart's DecisionTreeRegression, whose split search is quadratic in the rows of a node;
   * it sees a seeded subsample of at most `maxMlCartRows` rows. Default 'fast'.
   */
  engine?: CartEngine;
  /** Row cap for the 'ml-cart' engine. Default 3000. */
  maxMlCartRows?: number;
  /** Per-row weights ('fast' engine), e.g. to balance classes. Default: all 1. */
  weights?: Float32Array;
  /** Seed of the 'ml-cart' subsample. Default 0. */
  seed?: number;
}

type ResolvedCartOptions = Required<Omit<CartOptions, 'weights'>> & Pick<CartOptions, 'weights'>;

export const CART_DEFAULTS: Readonly<Required<Omit<CartOptions, 'weights'>>> = Object.freeze({
  maxDepth: 10, minNumSamples: 20, minLeafSamples: 5, minGain: 1e-6, engine: 'fast', maxMlCartRows: 3000, seed: 0,
});

export interface FittedTree {
  tree: TreeArrays;
  /** Total squared-error reduction per feature, normalised to sum 1 (all 0 for a single leaf). */
  importance: Float64Array;
  /** Training rows that reached each node. */
  samples: Int32Array;
  /** Rows the tree was fit on (after any subsample). */
  rows: number;
}

/** Checks columns/labels and returns the row count. */
export function checkTrainingData(columns: readonly Float32Array[], labels: Float32Array, weights?: Float32Array): number {
  if (columns.length === 0) throw new DataError('training data has no feature columns');
  const n = labels.length;
  if (n === 0) throw new DataError('training data has no rows');
  columns.forEach((c, f) => {
    if (c.length !== n) throw new DataError(`feature column ${f} has ${c.length} rows but there are ${n} labels`);
  });
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(y >= 0 && y <= 1)) throw new DataError(`label ${i} is ${y}; prunability labels must lie in [0, 1]`);
  }
  if (weights) {
    if (weights.length !== n) throw new DataError(`${weights.length} weights for ${n} rows`);
    for (let i = 0; i < n; i++) {
      if (!(weights[i] >= 0 && Number.isFinite(weights[i]))) throw new DataError(`weight ${i} is ${weights[i]}; weights must be finite and ≥ 0`);
    }
  }
  return n;
}

/** Fits a regression tree (squared error) with the chosen engine. */
export function fitCart(columns: readonly Float32Array[], labels: Float32Array, opts: CartOptions = {}): FittedTree {
  const o: ResolvedCartOptions = { ...CART_DEFAULTS, ...opts };
  checkTrainingData(columns, labels, o.weights);
  if (!(Number.isInteger(o.maxDepth) && o.maxDepth >= 0 && o.maxDepth <= 30)) {
    throw new UsageError(`maxDepth must be an integer in [0, 30], got ${o.maxDepth}`);
  }
  if (o.engine === 'ml-cart') {
    if (o.weights) throw new UsageError("the 'ml-cart' engine does not support row weights; use engine 'fast'");
    return fitMlCart(columns, labels, o);
  }
  if (o.engine !== 'fast') throw new UsageError(`unknown CART engine '${String(o.engine)}'; use 'fast' or 'ml-cart'`);
  return fitFast(columns, labels, o);
}

// ---------------------------------------------------------------------------------------------
// 'fast': presort every column once; a node owns the same contiguous segment of every column's
// order, and a split stably partitions each segment, so every level costs O(features · rows).

const ROW_BITS = 2 ** 21;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Order of rows by value (NaN last, ties by row), via a native Float64Array sort of packed keys. */
function argsortColumn(col: Float32Array): Int32Array {
  const n = col.length;
  const out = new Int32Array(n);
  if (n <= ROW_BITS) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = col[i];
      let key: number;
      if (Number.isNaN(v)) key = 0xffffffff;
      else {
        f32[0] = v === 0 ? 0 : v; // −0 sorts with +0
        const b = u32[0];
        key = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
      }
      packed[i] = key * ROW_BITS + i;
    }
    packed.sort();
    for (let i = 0; i < n; i++) out[i] = packed[i] % ROW_BITS;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = i;
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  return out.sort((a, b) => key(col[a]) - key(col[b]) || a - b);
}

/** A float32 threshold t with a < t ≤ b, so `x < t` sends a (and below) left and b (and above) right. */
function splitThreshold(a: number, b: number): number {
  const mid = ceilFloat32((a + b) / 2);
  return mid > a && mid <= b ? (mid === 0 ? 0 : mid) : b;
}

interface Builder {
  feature: number[]; threshold: number[]; left: number[]; right: number[]; value: number[]; samples: number[];
}

function fitFast(columns: readonly Float32Array[], y: Float32Array, o: ResolvedCartOptions): FittedTree {
  const n = y.length;
  const d = columns.length;
  const w = o.weights;
  const orders = columns.map(argsortColumn);
  const goLeft = new Uint8Array(n);
  const tmp = new Int32Array(n);
  const gainByFeature = new Float64Array(d);
  const b: Builder = { feature: [], threshold: [], left: [], right: [], value: [], samples: [] };
  const minLeaf = Math.max(1, Math.floor(o.minLeafSamples));
  let minGainAbs = 0;

  const build = (lo: number, hi: number, depth: number): number => {
    const count = hi - lo;
    const ord0 = orders[0];
    let sW = 0, sWY = 0, sWY2 = 0;
    for (let j = lo; j < hi; j++) {
      const r = ord0[j];
      const wi = w ? w[r] : 1;
      const yi = y[r];
      sW += wi; sWY += wi * yi; sWY2 += wi * yi * yi;
    }
    const id = b.value.length;
    b.feature.push(0); b.threshold.push(0); b.left.push(-1); b.right.push(-1);
    b.value.push(sW > 0 ? sWY / sW : 0);
    b.samples.push(count);
    const sse = sW > 0 ? sWY2 - (sWY * sWY) / sW : 0;
    if (depth === 0) minGainAbs = Math.max(o.minGain * sse, 1e-12 * sse, 0);
    if (depth >= o.maxDepth || count <= o.minNumSamples || count < 2 * minLeaf || !(sse > 0) || !(sW > 0)) return id;

    const base = (sWY * sWY) / sW;
    let bestGain = minGainAbs;
    let bestF = -1, bestLeft = 0, bestThr = 0;
    for (let f = 0; f < d; f++) {
      const ord = orders[f];
      const col = columns[f];
      let lW = 0, lWY = 0;
      let x = col[ord[lo]];
      for (let j = lo; j < hi - 1; j++) {
        const r = ord[j];
        const wi = w ? w[r] : 1;
        lW += wi; lWY += wi * y[r];
        const xn = col[ord[j + 1]];
        const lc = j - lo + 1;
        if (x < xn && lc >= minLeaf && count - lc >= minLeaf) {
          const rW = sW - lW;
          if (lW > 0 && rW > 0) {
            const rWY = sWY - lWY;
            const gain = (lWY * lWY) / lW + (rWY * rWY) / rW - base;
            if (gain > bestGain) { bestGain = gain; bestF = f; bestLeft = lc; bestThr = splitThreshold(x, xn); }
          }
        }
        x = xn;
      }
    }
    if (bestF < 0) return id;
    gainByFeature[bestF] += bestGain;

    // Partition every column's segment: the first bestLeft rows of the split column go left.
    const split = orders[bestF];
    for (let j = lo; j < hi; j++) goLeft[split[j]] = j < lo + bestLeft ? 1 : 0;
    for (let f = 0; f < d; f++) {
      if (f === bestF) continue;
      const ord = orders[f];
      let nl = lo, nr = 0;
      for (let j = lo; j < hi; j++) {
        const r = ord[j];
        if (goLeft[r]) ord[nl++] = r;
        else tmp[nr++] = r;
      }
      ord.set(tmp.subarray(0, nr), nl);
    }
    b.feature[id] = bestF;
    b.threshold[id] = bestThr;
    const mid = lo + bestLeft;
    const l = build(lo, mid, depth + 1);
    const r = build(mid, hi, depth + 1);
    b.left[id] = l;
    b.right[id] = r;
    return id;
  };
  build(0, n, 0);
  return finish(b, gainByFeature, n);
}

function finish(b: Builder, gainByFeature: Float64Array, rows: number): FittedTree {
  const total = gainByFeature.reduce((a, v) => a + v, 0);
  const importance = gainByFeature.map((v) => (total > 0 ? v / total : 0));
  return {
    tree: {
      feature: Int32Array.from(b.feature),
      threshold: Float32Array.from(b.threshold),
      left: Int32Array.from(b.left),
      right: Int32Array.from(b.right),
      value: Float32Array.from(b.value),
    },
    importance,
    samples: Int32Array.from(b.samples),
    rows,
  };
}

// ---------------------------------------------------------------------------------------------
// 'ml-cart' engine and conversions.

/** The ml-cart module (CommonJS; loaded with require so its `main` build is used). */
function mlCart(): typeof import('ml-cart') {
  return require('ml-cart') as typeof import('ml-cart');
}

/** Rows (row-major number arrays) from columns, for ml-cart. */
export function columnsToRows(columns: readonly Float32Array[], pick?: ArrayLike<number>): number[][] {
  const n = pick ? pick.length : columns[0].length;
  const rows: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = pick ? pick[i] : i;
    rows[i] = columns.map((c) => c[r]);
  }
  return rows;
}

function fitMlCart(columns: readonly Float32Array[], y: Float32Array, o: ResolvedCartOptions): FittedTree {
  const n = y.length;
  let pick: Int32Array | undefined;
  if (n > o.maxMlCartRows) {
    pick = new Rng(o.seed).permutation(n).subarray(0, o.maxMlCartRows).sort();
  }
  const rows = columnsToRows(columns, pick);
  const labels = pick ? Array.from(pick, (r) => y[r]) : Array.from(y);
  const { DecisionTreeRegression } = mlCart();
  const model = new DecisionTreeRegression({ maxDepth: o.maxDepth, minNumSamples: o.minNumSamples });
  model.train(rows, labels);
  const { tree } = fromMlCartNode(model.toJSON().root, columns.length);
  // ml-cart records no per-feature gain: recover it (and node sizes) by passing the rows through.
  return { tree, ...nodeStats(tree, columns, y, pick), rows: rows.length };
}

/** Rows reaching each node and the normalised squared-error reduction per feature, on (a subset of) rows. */
export function nodeStats(t: TreeArrays, columns: readonly Float32Array[], y: Float32Array, pick?: ArrayLike<number>) {
  const N = t.value.length;
  const cnt = new Float64Array(N), sy = new Float64Array(N), syy = new Float64Array(N);
  const n = pick ? pick.length : y.length;
  for (let i = 0; i < n; i++) {
    const r = pick ? pick[i] : i;
    const yi = y[r];
    let k = 0;
    for (;;) {
      cnt[k]++; sy[k] += yi; syy[k] += yi * yi;
      if (t.left[k] < 0) break;
      k = columns[t.feature[k]][r] < t.threshold[k] ? t.left[k] : t.right[k];
    }
  }
  const sse = (k: number) => (cnt[k] > 0 ? syy[k] - (sy[k] * sy[k]) / cnt[k] : 0);
  const gain = new Float64Array(columns.length);
  for (let k = 0; k < N; k++) {
    if (t.left[k] >= 0) gain[t.feature[k]] += Math.max(0, sse(k) - sse(t.left[k]) - sse(t.right[k]));
  }
  const total = gain.reduce((a, v) => a + v, 0);
  return { importance: gain.map((v) => (total > 0 ? v / total : 0)), samples: Int32Array.from(cnt) };
}

/** Flattens an ml-cart node tree (preorder); thresholds become the float32 that splits float32 inputs identically. */
export function fromMlCartNode(root: MlCartNode, numFeatures: number): FittedTree {
  const b: Builder = { feature: [], threshold: [], left: [], right: [], value: [], samples: [] };
  const gain = new Float64Array(numFeatures);
  const visit = (node: MlCartNode): number => {
    const id = b.value.length;
    b.feature.push(0); b.threshold.push(0); b.left.push(-1); b.right.push(-1); b.value.push(0); b.samples.push(0);
    const isLeaf = node.distribution !== undefined || !node.left || !node.right;
    if (isLeaf) {
      const v = typeof node.distribution === 'number' ? node.distribution : NaN;
      b.value[id] = v;
      return id;
    }
    b.feature[id] = node.splitColumn ?? -1;
    b.threshold[id] = ceilFloat32(node.splitValue ?? NaN);
    const l = visit(node.left!);
    const r = visit(node.right!);
    b.left[id] = l;
    b.right[id] = r;
    return id;
  };
  visit(root);
  return finish(b, gain, 0);
}

/** ml-cart's JSON form of a flat tree, loadable with DecisionTreeRegression.load. */
export function toMlCartJSON(t: TreeArrays, options: { maxDepth?: number; minNumSamples?: number } = {}): MlCartRegressionJSON {
  const node = (k: number): MlCartNode => {
    if (t.left[k] < 0) return { distribution: t.value[k] };
    return { splitColumn: t.feature[k], splitValue: t.threshold[k], gain: 0, left: node(t.left[k]), right: node(t.right[k]) };
  };
  return {
    name: 'DTRegression',
    options: {
      gainFunction: 'regression', splitFunction: 'mean', kind: 'regression',
      minNumSamples: options.minNumSamples ?? CART_DEFAULTS.minNumSamples, maxDepth: options.maxDepth ?? CART_DEFAULTS.maxDepth,
    },
    root: node(0),
  };
}

/** An ml-cart DecisionTreeRegression equivalent to a flat tree (for cross-checks and ml-cart users). */
export function toMlCart(t: TreeArrays): MlCartRegressor {
  return mlCart().DecisionTreeRegression.load(toMlCartJSON(t));
}
