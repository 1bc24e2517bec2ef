/** In-memory datasets (the library API's) are checked before any training, one DataError naming split and row. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { checkDataset, type Dataset } from '../../src/data/dataset.js';
import { DataError } from '../../src/errors.js';
import { autoprune } from '../../src/api.js';

function data(edit: (rows: number[][], labels: number[]) => void = () => {}): Dataset {
  const split = (seed: number) => {
    const rows = Array.from({ length: 12 }, (_, i) => [Math.sin(i + seed), Math.cos(i * seed)]);
    const labels = rows.map((_, i) => i % 3);
    return { rows, labels };
  };
  const t = split(1);
  edit(t.rows, t.labels);
  const mk = (s: { rows: number[][]; labels: number[] }) => ({ x: s.rows.length ? tf.tensor2d(s.rows) : tf.zeros([0, 2]), labels: Int32Array.from(s.labels) });
  const train = mk(t), val = mk(split(2)), test = mk(split(3));
  return { name: 'mem', source: 'memory', inputShape: [2], numClasses: 3, classNames: ['a', 'b', 'c'], train, val, test, dispose: () => [train, val, test].forEach((s) => s.x.dispose()) };
}

describe('checkDataset', () => {
  it('accepts a sound dataset and names what is wrong in one that is not', () => {
    const ok = data();
    expect(() => checkDataset(ok)).not.toThrow();
    ok.dispose();
    const cases: [(r: number[][], l: number[]) => void, RegExp][] = [
      [(r) => { r[5][1] = NaN; }, /dataset 'mem', train split: input row 5 holds NaN/],
      [(r) => { r[2][0] = Infinity; }, /input row 2 holds Infinity/],
      [(_, l) => { l[3] = 7; }, /train split: label 7 at row 3 is not a class id in 0…2/],
      [(_, l) => { l[0] = -1; }, /label -1 at row 0/],
      [(_, l) => { l.pop(); }, /train split has 12 inputs but 11 labels/],
      [(r, l) => { r.length = 0; l.length = 0; }, /train split has no rows/],
      [(r) => { r.forEach((row) => row.push(0)); }, /train split: its x has shape \[12, 3\] \(3 values per row\) but the dataset's inputShape \[2\] says 2/],
    ];
    for (const [edit, msg] of cases) {
      const d = data(edit);
      expect(() => checkDataset(d)).toThrow(DataError);
      expect(() => checkDataset(d)).toThrow(msg);
      d.dispose();
    }
    // Value targets (regression): labels are not class ids, the targets are checked instead.
    const reg = data((_, l) => { l[0] = 9; });
    expect(() => checkDataset(reg, false)).not.toThrow();
    reg.dispose();
  });

  it('autoprune() refuses an in-memory dataset with a NaN before any training', async () => {
    const d = data((r) => { r[4][0] = NaN; });
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    const events: string[] = [];
    await expect(autoprune({ model, data: d, target: 0.5, onEvent: (e) => events.push(e.type) })).rejects.toThrow(/train split: input row 4 holds NaN/);
    expect(events).not.toContain('step');
    model.dispose();
    d.dispose();
  });

  it('autoprune() refuses CSV options on an in-memory dataset, and compact without an output folder', async () => {
    const d = data();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'softmax' })] });
    await expect(autoprune({ model, data: d, target: 0.5, label: 'kind', split: [0.8, 0.1, 0.1] })).rejects.toThrow(/label, split apply only to CSV data; an in-memory Dataset brings its own splits and labels/);
    await expect(autoprune({ model, data: d, target: 0.5, compact: true })).rejects.toThrow(/compact writes the compact model .* give out/);
    model.dispose();
    d.dispose();
  });
});
