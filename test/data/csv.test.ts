import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../src/backend/tf.js';
import { loadCsv, nameList, type CsvOptions } from '../../src/data/csv.js';
import type { Dataset } from '../../src/data/dataset.js';
import { DataError, UsageError } from '../../src/errors.js';
import { withDataset } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'autoprune-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
/** Writes `text` to a fresh file in the temp folder and returns its path. */
function csv(text: string, name = `data${fileNo++}.csv`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Rows "i, 2i, label" for i = 0..n-1. */
function rows(n: number, label: (i: number) => string, sep = ','): string {
  return Array.from({ length: n }, (_, i) => [i, 2 * i, label(i)].join(sep)).join('\n') + '\n';
}

const withData = <T>(opts: CsvOptions, fn: (d: Dataset) => T): T => withDataset(loadCsv(opts), fn);

function values(t: TF.Tensor): number[][] {
  return t.arraySync() as number[][];
}

function sizes(d: Dataset): number[] {
  return [d.train, d.val, d.test].map((s) => s.labels.length);
}

/** Every sample's label, checked against the label its first raw feature implies (standardize: false). */
function expectLabelsMatchRows(d: Dataset, labelOf: (i: number) => string): void {
  for (const s of [d.train, d.val, d.test]) {
    const x = values(s.x);
    expect(x.length).toBe(s.labels.length);
    x.forEach((r, k) => expect(d.classNames[s.labels[k]]).toBe(labelOf(r[0])));
  }
}

function expectDataError(fn: () => unknown, ...parts: string[]): DataError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DataError);
  const e = caught as DataError;
  expect(e.exitCode).toBe(2);
  expect(e.message.split('\n')).toHaveLength(1);
  for (const p of parts) expect(e.message).toContain(p);
  return e;
}

describe('nameList: the command line\'s comma-separated names', () => {
  it('reads names as one CSV record: a quoted name keeps its comma and spaces, the others are trimmed', () => {
    expect(nameList('a, b ,c', '--label-order')).toEqual(['a', 'b', 'c']);
    expect(nameList('"Adelie, penguin","Chinstrap, penguin", Gentoo', '--label-order')).toEqual(['Adelie, penguin', 'Chinstrap, penguin', 'Gentoo']);
    expect(nameList('"say ""hi""",x', '--ignore-columns')).toEqual(['say "hi"', 'x']);
    expect(nameList('a,,b,', '--ignore-columns')).toEqual(['a', 'b']);
    expect(() => nameList('"open, never closed', '--label-order')).toThrow(/--label-order line 1: a quoted field is never closed/);
  });
});

describe('loadCsv: happy paths', () => {
  it('reads a file with a delimiter at the end of every line (an empty last column, header included) as without it', () => {
    const lab = (i: number) => ['x', 'y'][i % 2];
    const body = rows(30, lab).trim().split('\n');
    const p = csv(['a,b,label,', ...body.map((l) => `${l},`)].join('\n'));
    withData({ path: p, standardize: false }, (d) => {
      expect(d.inputNames).toEqual(['a', 'b']);
      expect(d.classNames).toEqual(['x', 'y']);
    });
  });

  it("reads pandas' numbered header (0,1,…,label) as a header, not as a sample or a class of its own", () => {
    const body = Array.from({ length: 40 }, (_, i) => `${i % 7},${(3 * i) % 11},${i % 5},${i % 3 ? 'a' : 'b'}`);
    withData({ path: csv(['0,1,2,label', ...body].join('\n')), standardize: false }, (d) => {
      expect(d.inputNames).toEqual(['0', '1', '2']);
      expect(d.classNames).toEqual(['a', 'b']);
      expect(sizes(d).reduce((x, y) => x + y)).toBe(40);
    });
    // Counting from 1 across every column (a regression file's targets too).
    const reg = Array.from({ length: 40 }, (_, i) => `${i % 7},${(3 * i) % 11},${i % 5},${i * 0.5}`);
    withData({ path: csv(['1,2,3,4', ...reg].join('\n')), standardize: false }, (d) => expect(sizes(d).reduce((x, y) => x + y)).toBe(40));
    // A first row that is data (the next row counts too, or its label recurs) stays data.
    const counting = Array.from({ length: 40 }, (_, i) => `0,1,2,${i % 2}`);
    withData({ path: csv(counting.join('\n')), standardize: false }, (d) => expect(sizes(d).reduce((x, y) => x + y)).toBe(40));
    const recurs = ['0,1,2,a', ...body];
    withData({ path: csv(recurs.join('\n')), standardize: false }, (d) => expect(sizes(d).reduce((x, y) => x + y)).toBe(41));
  });

  it('records the standardization it applied (the training rows\' mean and std per column), so a user can apply it', () => {
    const p = csv('a,b,c,y\n' + Array.from({ length: 40 }, (_, i) => `${i},${100 + 2 * (i % 5)},7,${i % 2}`).join('\n'));
    withData({ path: p }, (d) => {
      const s = d.standardization!;
      expect(s.columns).toEqual(['a', 'b', 'c']);
      expect(s.std[2]).toBe(0); // a constant column is fed as 0
      // Undone with the recorded figures, the training inputs are the raw values again.
      const x = values(d.train.x);
      for (const r of x) {
        const a = r[0] * s.std[0] + s.mean[0], b = r[1] * s.std[1] + s.mean[1];
        expect(Math.abs(a - Math.round(a))).toBeLessThan(1e-3);
        expect([100, 102, 104, 106, 108]).toContain(Math.round(b));
        expect(Math.abs(b - Math.round(b))).toBeLessThan(1e-3);
      }
      const col = x.map((r) => r[1]);
      expect(col.reduce((a, b) => a + b, 0) / col.length).toBeCloseTo(0, 5);
      expect(Math.sqrt(col.reduce((a, b) => a + b * b, 0) / col.length)).toBeCloseTo(1, 5);
    });
    withData({ path: p, standardize: false }, (d) => expect(d.standardization).toBeUndefined());
  });

  it('reads a file with a header, numeric labels sorted numerically, and an 80/10/10 split', () => {
    const lab = (i: number) => String([10, 2, 1][i % 3]);
    const p = csv('a,b,y\n' + rows(30, lab));
    withData({ path: p, standardize: false }, (d) => {
      expect(d.name).toMatch(/^data\d+\.csv$/);
      expect(d.source).toBe(p);
      expect(d.inputShape).toEqual([2]);
      expect(d.numClasses).toBe(3);
      expect(d.classNames).toEqual(['1', '2', '10']);
      expect(sizes(d)).toEqual([24, 3, 3]);
      expect(d.train.x.shape).toEqual([24, 2]);
      expect(d.train.x.dtype).toBe('float32');
      expectLabelsMatchRows(d, lab);
      // Every row lands in exactly one split.
      const seen = [d.train, d.val, d.test].flatMap((s) => values(s.x).map((r) => r[0])).sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    });
  });

  it('detects a missing header, and obeys header: true / false', () => {
    const lab = (i: number) => String(i % 2);
    const p = csv(rows(20, lab));
    withData({ path: p, standardize: false }, (d) => {
      expect(sizes(d).reduce((a, b) => a + b)).toBe(20);
      expectLabelsMatchRows(d, lab);
    });
    withData({ path: p, header: true, standardize: false }, (d) => {
      expect(sizes(d).reduce((a, b) => a + b)).toBe(19);
    });
    const q = csv('a,b,y\n' + rows(20, lab));
    expectDataError(() => loadCsv({ path: q, header: false }), q, 'line 1', "'a' is not a number");
  });

  it('maps string labels to sorted class ids', () => {
    const lab = (i: number) => ['dog', 'cat', 'bird'][i % 3];
    withData({ path: csv(rows(30, lab)), standardize: false }, (d) => {
      expect(d.classNames).toEqual(['bird', 'cat', 'dog']);
      expect(d.numClasses).toBe(3);
      expectLabelsMatchRows(d, lab);
    });
  });

  it('takes the label column by name, by index, and by a string of digits', () => {
    const text = 'kind,f1,f2\n' + Array.from({ length: 20 }, (_, i) => `${i % 2 ? 'x' : 'y'},${i},${i * 3}`).join('\n');
    const p = csv(text);
    const lab = (i: number) => (i % 2 ? 'x' : 'y');
    for (const label of ['kind', 0, '0'] as const) {
      withData({ path: p, label, standardize: false }, (d) => {
        expect(d.inputShape).toEqual([2]);
        expect(d.classNames).toEqual(['x', 'y']);
        expectLabelsMatchRows(d, lab);
      });
    }
    // Headerless file, label by index: the other columns are features.
    const q = csv(Array.from({ length: 20 }, (_, i) => `${i},${i % 2},${i * 3}`).join('\n'));
    withData({ path: q, label: 1, standardize: false }, (d) => {
      expect(d.inputShape).toEqual([2]);
      for (const s of [d.train, d.val, d.test]) {
        values(s.x).forEach((r, k) => {
          expect(r[1]).toBe(r[0] * 3);
          expect(s.labels[k]).toBe(r[0] % 2);
        });
      }
    });
  });

  it('splits the same rows whatever order --label-order gives the classes (a re-split would put training rows into validation)', () => {
    // 95/5 classes: the stratified split must not depend on which class is numbered first.
    const p = csv('f1,f2,y\n' + Array.from({ length: 400 }, (_, i) => `${i},${(i * 7) % 13},${i % 20 === 0 ? 'late' : 'ontime'}`).join('\n'));
    const rowsOf = (d: Dataset) => [d.train, d.val, d.test].map((s) => values(s.x).map((r) => r[0]).sort((a, b) => a - b));
    const plain = loadCsv({ path: p, standardize: false });
    const swapped = loadCsv({ path: p, standardize: false, labelOrder: ['ontime', 'late'] });
    try {
      expect(swapped.classNames).toEqual(['ontime', 'late']);
      expect(rowsOf(swapped)).toEqual(rowsOf(plain));
    } finally {
      plain.dispose();
      swapped.dispose();
    }
  });

  it('reads several label columns of a classifier as one-hot classes, in the order named, and names a row that is not one-hot', () => {
    // Class c of row i = i % 3, one-hot in the columns a, b, c (the file's order differs from the order named).
    const names = ['a', 'b', 'c'];
    const text = 'f1,c,f2,a,b\n' + Array.from({ length: 30 }, (_, i) => {
      const hot = (n: string) => (names[i % 3] === n ? 1 : 0);
      return [i, hot('c'), 2 * i, hot('a'), hot('b')].join(',');
    }).join('\n');
    const p = csv(text);
    withData({ path: p, label: ['a', 'b', 'c'], standardize: false }, (d) => {
      expect(d.inputShape).toEqual([2]);
      expect(d.numClasses).toBe(3);
      expect(d.classNames).toEqual(['a', 'b', 'c']);
      expect(d.labelOrderGiven).toBe(true);
      expect(d.inputNames).toEqual(['f1', 'f2']);
      expect(d.targetNames).toEqual(['a', 'b', 'c']);
      expectLabelsMatchRows(d, (f1) => names[f1 % 3]);
    });
    // Two 1s in one row: multi-label data, not classes; a 2: not 0/1.
    const bad = csv('f1,a,b\n1,1,0\n2,0,1\n3,1,1\n' + Array.from({ length: 10 }, (_, i) => `${i},${i % 2},${1 - (i % 2)}`).join('\n'));
    expectDataError(() => loadCsv({ path: bad, label: ['a', 'b'] }), 'line 4', 'the label columns a, b hold 1, 1', 'one-hot', '--task multilabel');
    expect(() => loadCsv({ path: p, label: ['a', 'b', 'c'], labelOrder: ['c', 'b', 'a'] })).toThrow(UsageError);
  });

  it('uses separate validation and test files', () => {
    const lab = (i: number) => ['a', 'b'][i % 2];
    const train = csv('u,v,y\n' + rows(10, lab), 'sep-train.csv');
    const val = csv('u,v,y\n' + rows(4, lab), 'sep-val.csv');
    const test = csv(rows(6, lab), 'sep-test.csv'); // no header: detected per file
    withData({ path: train, valPath: val, testPath: test, standardize: false }, (d) => {
      expect(sizes(d)).toEqual([10, 4, 6]);
      expect(d.source).toBe([train, val, test].join(', '));
      expect(values(d.val.x).map((r) => r[0])).toEqual([0, 1, 2, 3]);
      expect(Array.from(d.test.labels)).toEqual([0, 1, 0, 1, 0, 1]);
    });
    // Only a validation file: the test split still comes out of the training file.
    withData({ path: train, valPath: val, standardize: false }, (d) => {
      expect(sizes(d)).toEqual([9, 4, 1]);
    });
    // A file with a column fewer: the column named where both have a header.
    const short = csv('u,y\n' + Array.from({ length: 4 }, (_, i) => `${i},${lab(i)}`).join('\n') + '\n', 'sep-short.csv');
    expect(() => loadCsv({ path: train, testPath: short })).toThrow(/sep-short\.csv line 1: expected 3 columns like .*sep-train\.csv, found 2 \(without 'v'\)$/);
  });

  it('detects semicolon and tab delimiters', () => {
    const lab = (i: number) => String(i % 2);
    for (const sep of [';', '\t']) {
      withData({ path: csv(['a', 'b', 'y'].join(sep) + '\n' + rows(20, lab, sep)), standardize: false }, (d) => {
        expect(d.inputShape).toEqual([2]);
        expectLabelsMatchRows(d, lab);
      });
    }
  });

  it('handles quoted fields, doubled quotes, blank lines, a BOM and CRLF line ends', () => {
    const lines = ['"x, first","x ""second""",label'];
    for (let i = 0; i < 20; i++) lines.push(`"${i}",${i * 2},"${i % 2 ? 'a,b' : 'say ""hi""'}"`);
    const p = csv('\uFEFF' + lines.join('\r\n') + '\r\n\r\n');
    withData({ path: p, label: 'label', standardize: false }, (d) => {
      expect(d.classNames).toEqual(['a,b', 'say "hi"']);
      expect(sizes(d).reduce((a, b) => a + b)).toBe(20);
      expectLabelsMatchRows(d, (i) => (i % 2 ? 'a,b' : 'say "hi"'));
    });
  });

  it('standardises with training statistics only and zeroes constant columns', () => {
    const train = csv('f,c,y\n' + Array.from({ length: 10 }, (_, i) => `${i},7,${i % 2}`).join('\n'));
    const val = csv('f,c,y\n100,7,0\n4.5,3,1\n');
    const test = csv('f,c,y\n-1,7,1\n');
    const mean = 4.5;
    const sd = Math.sqrt(Array.from({ length: 10 }, (_, i) => (i - mean) ** 2).reduce((a, b) => a + b) / 10);
    withData({ path: train, valPath: val, testPath: test }, (d) => {
      const t = values(d.train.x);
      const m = t.reduce((a, r) => a + r[0], 0) / t.length;
      const v = t.reduce((a, r) => a + (r[0] - m) ** 2, 0) / t.length;
      expect(m).toBeCloseTo(0, 5);
      expect(v).toBeCloseTo(1, 5);
      expect(t.every((r) => r[1] === 0)).toBe(true);
      const x = values(d.val.x);
      expect(x[0][0]).toBeCloseTo((100 - mean) / sd, 4);
      expect(x[1][0]).toBeCloseTo(0, 6);
      expect(x[1][1]).toBe(0);
      expect(values(d.test.x)[0][0]).toBeCloseTo((-1 - mean) / sd, 4);
    });
  });

  it('splits stratified and deterministically per seed, and shuffles the training split', () => {
    const lab = (i: number) => (i % 4 === 0 ? 'rare' : 'common');
    const p = csv(rows(200, lab));
    const order = (seed: number) => withData({ path: p, seed, standardize: false }, (d) => {
      expect(sizes(d)).toEqual([160, 20, 20]);
      for (const s of [d.val, d.test]) {
        // 25% of the rows are 'rare': the stratified split keeps that share in each part.
        expect(Array.from(s.labels).filter((c) => d.classNames[c] === 'rare')).toHaveLength(5);
        const ids = values(s.x).map((r) => r[0]);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
      }
      return [d.train, d.val].map((s) => values(s.x).map((r) => r[0]).join(','));
    });
    const a = order(0);
    expect(order(0)).toEqual(a);
    const b = order(1);
    expect(b[0]).not.toEqual(a[0]);
    expect(b[1]).not.toEqual(a[1]);
    const trainIds = a[0].split(',').map(Number);
    expect(trainIds).not.toEqual([...trainIds].sort((x, y) => x - y));
  });

  it('accepts split fractions and rejects malformed ones', () => {
    const p = csv(rows(20, (i) => String(i % 2)));
    withData({ path: p, split: [0.5, 0.25, 0.25] }, (d) => expect(sizes(d)).toEqual([10, 5, 5]));
    expect(() => loadCsv({ path: p, split: [0.5, -0.25, 0.75] })).toThrow(UsageError);
  });

  it('refuses an option it does not take, naming the one meant (autoprune()\'s and loadDataset\'s names included)', async () => {
    const { loadDataset } = await import('../../src/data/registry.js');
    const p = csv(rows(20, (i) => String(i % 2)));
    expect(() => loadCsv({ path: p, ignoreColumns: ['a'] } as never)).toThrow(/unknown option 'ignoreColumns' \(did you mean 'ignore'\?\); loadCsv takes path, valPath/);
    expect(() => loadCsv({ path: p, valData: 'v.csv' } as never)).toThrow(/unknown option 'valData' \(did you mean 'valPath'\?\)/);
    expect(() => loadCsv({ path: p, standardise: false } as never)).toThrow(/unknown option 'standardise' \(did you mean 'standardize'\?\)/);
    expect(() => loadDataset(p, { ignore: ['a'] } as never)).toThrow(/unknown option 'ignore' \(did you mean 'ignoreColumns'\?\); loadDataset takes/);
    expect(() => loadDataset(p, { testData: 't.csv' } as never)).toThrow(/unknown option 'testData' \(did you mean 'testPath'\?\)/);
  });

  it('leaks no tensors', () => {
    const p = csv(rows(50, (i) => String(i % 3)));
    const before = tf.memory().numTensors;
    loadCsv({ path: p }).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('loadCsv: bad data throws one-line DataErrors naming file and line', () => {
  it('empty file, blank-only file', () => {
    const p = csv('');
    expectDataError(() => loadCsv({ path: p }), p, 'empty');
    const q = csv('\n \r\n\n');
    expectDataError(() => loadCsv({ path: q }), q, 'empty');
  });

  it('a JSON file (records, or a model.json given as data) is named as JSON, not read as a table of odd columns', () => {
    const records = csv('[\n  {"species": "Adelie", "bill": 39.1},\n  {"species": "Gentoo", "bill": 46.1}\n]\n');
    expectDataError(() => loadCsv({ path: records }), records, 'is JSON, not a table', 'convert the records to CSV');
    const modelJson = csv('{"modelTopology": {"class_name": "Sequential", "config": {"use_bias": true, "units": 3}}, "weightsManifest": []}');
    expectDataError(() => loadCsv({ path: modelJson }), modelJson, 'is JSON, not a table');
  });

  it('header only', () => {
    const p = csv('\na,b,y\n');
    expectDataError(() => loadCsv({ path: p }), p, 'line 2', 'no data rows');
  });

  it('a single column', () => {
    const p = csv('1\n2\n3\n');
    expectDataError(() => loadCsv({ path: p }), p, 'line 1', 'found 1 column');
  });

  it('ragged row', () => {
    const body = Array.from({ length: 10 }, (_, i) => (i === 5 ? '1,2,3,4' : '1,2,3,4,0'));
    const p = csv('a,b,c,d,y\n' + body.join('\n'));
    const e = expectDataError(() => loadCsv({ path: p }), p);
    expect(e.message).toBe(`${p} line 7: expected 5 columns, found 4`);
  });

  it('non-numeric, NaN and empty feature cells', () => {
    const make = (bad: string) => {
      const body = Array.from({ length: 12 }, (_, i) => (i === 10 ? `1,2,${bad},0` : `1,2,3,${i % 2}`));
      return csv('x1,x2,x3,y\n' + body.join('\n'));
    };
    let p = make('abc');
    const e = expectDataError(() => loadCsv({ path: p }), p);
    expect(e.message).toBe(`${p} line 12, column 'x3': 'abc' is not a number; the label column is 'y' (another: --label); columns that are not inputs are left out with --ignore-columns, and a categorical input is given as the model was trained on it, encoded as numbers (e.g. one 0/1 column per category)`);
    p = make('NaN');
    expectDataError(() => loadCsv({ path: p }), p, 'line 12', "column 'x3'", "'NaN' is not a number", 'does not fill in missing values');
    // What spreadsheets, R and pandas write for a missing value gets the missing-value advice too.
    for (const na of ['NA', 'n/a', 'null', '?']) expectDataError(() => loadCsv({ path: make(na) }), `'${na}' is not a number`, 'does not fill in missing values');
    p = make('');
    expectDataError(() => loadCsv({ path: p }), p, 'line 12', "column 'x3'", 'empty cell', 'does not fill in missing values', '--ignore-columns');
    // A missing-value word that is a class name in the column the user meant as the label: the message says which
    // column was taken as the label (a new user's 'None' damage class, read as a feature).
    p = csv('damage,cost\n' + Array.from({ length: 12 }, (_, i) => `${i % 3 === 0 ? 'None' : 'Minor'},${i}`).join('\n'));
    expectDataError(() => loadCsv({ path: p }), "column 'damage': 'None' is not a number", 'does not fill in missing values', "the label column is 'cost' (another: --label)");
    expect(expectDataError(() => loadCsv({ path: make('NA'), label: 'y' })).message).not.toContain('the label column is');
    // A decimal comma (a ';'-separated export of a European spreadsheet) is named as such.
    p = csv('x1;x2;y\n' + Array.from({ length: 12 }, (_, i) => `0,5;${i};${i % 2}`).join('\n'));
    expectDataError(() => loadCsv({ path: p }), "'0,5' is not a number: numbers are read with a decimal point and no thousands separator (a decimal comma?");
    // A quoted field spanning lines shifts the line numbers after it.
    p = csv('x1,y\n"1",a\n"2\n",b\n3,a\noops,b\n');
    expectDataError(() => loadCsv({ path: p }), p, 'line 6', "column 'x1'", "'oops'");
  });

  it('unclosed quote', () => {
    const p = csv('a,y\n1,0\n"2,1\n3,0\n');
    expectDataError(() => loadCsv({ path: p }), p, 'line 3', 'never closed');
  });

  it('unknown label column lists the columns', () => {
    const p = csv('a,b,y\n' + rows(10, (i) => String(i % 2)));
    expectDataError(() => loadCsv({ path: p, label: 'target' }), p, 'line 1', "'target'", "'a', 'b', 'y'");
    expectDataError(() => loadCsv({ path: p, label: 3 }), p, 'line 1', "'a', 'b', 'y'");
    const q = csv(rows(10, (i) => String(i % 2)));
    expectDataError(() => loadCsv({ path: q, label: 5 }), q, 'line 1', '0..2');
  });

  it('only one class', () => {
    const p = csv('a,b,y\n' + rows(10, () => 'same'));
    expectDataError(() => loadCsv({ path: p }), p, "'same'", 'at least two classes');
  });

  it('a split with 0 samples', () => {
    const p = csv(rows(4, (i) => String(i % 2)));
    expectDataError(() => loadCsv({ path: p }), p, 'validation split with 0 samples');
    expectDataError(() => loadCsv({ path: p, split: [1, 0, 0] }), p, '0 samples');
    expectDataError(() => loadCsv({ path: p, split: [0, 0.5, 0.5] }), p, 'training split with 0 samples');
  });

  it('missing or unreadable file', () => {
    const missing = join(dir, 'nope.csv');
    const e = expectDataError(() => loadCsv({ path: missing }), missing);
    expect(e.message).toBe(`data file '${missing}' does not exist`);
    const folder = join(dir, 'folder.csv');
    mkdirSync(folder);
    expectDataError(() => loadCsv({ path: folder }), folder, 'not a regular file');
    const train = csv(rows(10, (i) => String(i % 2)));
    expectDataError(() => loadCsv({ path: train, valPath: missing }), missing, 'does not exist');
  });

  it('labels in the validation/test file that the training file lacks', () => {
    const train = csv('a,b,y\n' + rows(10, (i) => ['p', 'q'][i % 2]));
    const val = csv('a,b,y\n1,2,p\n3,4,r\n');
    expectDataError(() => loadCsv({ path: train, valPath: val }), val, 'line 3', "'r'", 'p, q');
  });

  it('validation/test files whose columns differ from the training file', () => {
    const train = csv('a,b,y\n' + rows(10, (i) => String(i % 2)));
    const narrow = csv('a,y\n1,0\n');
    expectDataError(() => loadCsv({ path: train, testPath: narrow }), narrow, 'line 1', 'expected 3 columns');
    const renamed = csv('a,c,y\n1,2,0\n');
    expectDataError(() => loadCsv({ path: train, testPath: renamed }), renamed, 'line 1', 'differs');
    const ragged = csv('a,b,y\n1,2,0\n1,2\n');
    expectDataError(() => loadCsv({ path: train, valPath: ragged }), ragged, 'line 3', 'expected 3 columns, found 2');
  });
});
