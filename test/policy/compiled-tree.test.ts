import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { fitCart, fromMlCartNode, toMlCart, columnsToRows } from '../../src/policy/cart-train.js';
import { ceilFloat32, CompiledTree, type TreeArrays, treeDepth, validateTree } from '../../src/policy/compiled-tree.js';
import { Rng } from '../../src/util/random.js';

const require = createRequire(import.meta.url);

/** Row-wise reference evaluation (the ml-cart rule: x < threshold → left). */
function naive(t: TreeArrays, cols: Float32Array[], i: number): number {
  let k = 0;
  while (t.left[k] >= 0) k = cols[t.feature[k]][i] < t.threshold[k] ? t.left[k] : t.right[k];
  return t.value[k];
}

/** A random tree in preorder; leaves appear at every depth up to maxDepth. */
function randomTree(rng: Rng, F: number, maxDepth: number, pLeaf = 0.15): TreeArrays {
  const feature: number[] = [], threshold: number[] = [], left: number[] = [], right: number[] = [], value: number[] = [];
  const grow = (d: number): number => {
    const id = value.length;
    feature.push(0); threshold.push(0); left.push(-1); right.push(-1); value.push(Math.fround(rng.next()));
    if (d < maxDepth && (d === 0 || rng.next() > pLeaf)) {
      feature[id] = rng.int(F);
      threshold[id] = Math.fround(rng.normal());
      const l = grow(d + 1);
      const r = grow(d + 1);
      left[id] = l; right[id] = r;
    }
    return id;
  };
  grow(0);
  return { feature: Int32Array.from(feature), threshold: Float32Array.from(threshold), left: Int32Array.from(left), right: Int32Array.from(right), value: Float32Array.from(value) };
}

function randomColumns(rng: Rng, F: number, n: number): Float32Array[] {
  return Array.from({ length: F }, () => Float32Array.from({ length: n }, () => (rng.next() < 0.05 ? 0 : rng.normal())));
}

describe('CompiledTree', () => {
  it('agrees with row-wise evaluation for shallow, deep (pointer path) and single-leaf trees', () => {
    const rng = new Rng(3);
    const cols = randomColumns(rng, 7, 5000);
    cols[2][10] = NaN; // NaN goes right, as in ml-cart
    for (const depth of [0, 1, 5, 12, 16]) {
      const t = randomTree(rng, 7, depth);
      expect(validateTree(t, 7)).toBeUndefined();
      const ct = new CompiledTree(t);
      expect(ct.depth).toBe(treeDepth(t));
      const out = ct.evaluate(cols);
      for (let i = 0; i < 5000; i++) expect(out[i]).toBe(naive(t, cols, i));
      const tie = { column: cols[1], epsilon: 1e-3 };
      const withTie = ct.evaluate(cols, new Float32Array(5000), tie);
      for (let i = 0; i < 5000; i++) expect(withTie[i]).toBe(Math.fround(naive(t, cols, i) + 1e-3 * (1 - cols[1][i])));
    }
  });

  it('rejects malformed trees', () => {
    const ok: TreeArrays = { feature: Int32Array.from([0, 0, 0]), threshold: Float32Array.from([0.5, 0, 0]), left: Int32Array.from([1, -1, -1]), right: Int32Array.from([2, -1, -1]), value: Float32Array.from([0, 0.1, 0.9]) };
    expect(validateTree(ok, 1)).toBeUndefined();
    expect(validateTree({ ...ok, left: Int32Array.from([0, -1, -1]) }, 1)).toMatch(/invalid children/);
    expect(validateTree({ ...ok, right: Int32Array.from([5, -1, -1]) }, 1)).toMatch(/invalid children/);
    expect(validateTree({ ...ok, feature: Int32Array.from([3, 0, 0]) }, 1)).toMatch(/feature 3/);
    expect(validateTree({ ...ok, value: Float32Array.from([0, NaN, 1]) }, 1)).toMatch(/non-finite/);
    expect(validateTree({ ...ok, value: Float32Array.from([0, 1]) }, 1)).toMatch(/entries/);
  });

  it('ceilFloat32 gives the float32 threshold equivalent to a float64 one', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 2000; i++) {
      const a = Math.fround(rng.normal());
      const b = Math.fround(a + Math.abs(rng.normal()) * 1e-6 + 1e-7);
      const t = (a + b) / 2;
      const c = ceilFloat32(t);
      expect(Math.fround(c)).toBe(c);
      for (const x of [a, b, Math.fround(t)]) expect(x < c).toBe(x < t);
    }
  });
});

describe('CART training', () => {
  it('fast engine finds the obvious split', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const y = Float32Array.from([0, 0, 0, 1, 1, 1]);
    const { tree, importance } = fitCart([x], y, { minNumSamples: 0, minLeafSamples: 1 });
    expect(Array.from(tree.left)).toEqual([1, -1, -1]);
    expect(tree.threshold[0]).toBe(3.5);
    expect(Array.from(tree.value)).toEqual([0.5, 0, 1]);
    expect(Array.from(importance)).toEqual([1]);
  });

  it('fast and ml-cart engines fit comparably; ml-cart trees compile to identical predictions', () => {
    const rng = new Rng(11);
    const n = 600;
    const cols = randomColumns(rng, 4, n);
    const y = Float32Array.from({ length: n }, (_, i) => (cols[0][i] > 0.3 && cols[1][i] < 0.5 ? 1 : 0) * 0.9 + 0.1 * rng.next());
    const fast = fitCart(cols, y, { maxDepth: 5 });
    const viaMlCart = fitCart(cols, y, { maxDepth: 5, engine: 'ml-cart' });
    const mse = (t: TreeArrays) => {
      const p = new CompiledTree(t).evaluate(cols);
      return p.reduce((s, v, i) => s + (v - y[i]) ** 2, 0) / n;
    };
    expect(mse(fast.tree)).toBeLessThan(0.01);
    expect(mse(viaMlCart.tree)).toBeLessThan(0.01);
    expect(viaMlCart.importance[0] + viaMlCart.importance[1]).toBeGreaterThan(0.9);

    // An ml-cart model trained directly: its own row-wise predictions equal the compiled tree's.
    const { DecisionTreeRegression } = require('ml-cart');
    const raw = new DecisionTreeRegression({ maxDepth: 6, minNumSamples: 3 });
    raw.train(columnsToRows(cols), Array.from(y));
    const flat = fromMlCartNode(raw.toJSON().root, 4).tree;
    const test = randomColumns(new Rng(12), 4, 3000);
    const mine = new CompiledTree(flat).evaluate(test);
    const theirs: number[] = raw.predict(columnsToRows(test));
    theirs.forEach((v, i) => expect(mine[i]).toBe(Math.fround(v)));
    // And back: a flat tree converted to ml-cart predicts the same.
    const back = toMlCart(fast.tree).predict(columnsToRows(test));
    const fastPred = new CompiledTree(fast.tree).evaluate(test);
    back.forEach((v, i) => expect(fastPred[i]).toBe(v));
  });
});
