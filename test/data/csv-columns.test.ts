/** CSV column plans: columns left out (--ignore-columns) and target columns anywhere in the file (--label a,b). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCsv, type CsvOptions } from '../../src/data/csv.js';
import type { Dataset } from '../../src/data/dataset.js';
import { DataError, UsageError } from '../../src/errors.js';
import { withDataset } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'autoprune-csvcols-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const csv = (text: string): string => {
  const p = join(dir, `d${fileNo++}.csv`);
  writeFileSync(p, text);
  return p;
};

const withData = <T>(opts: CsvOptions, fn: (d: Dataset) => T): T => withDataset(loadCsv(opts), fn);

const rowsOf = (d: Dataset) => [d.train, d.val, d.test].flatMap((s) => s.x.arraySync() as number[][]);
const thrown = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
};

// id, name (text), a, label (text), b: the label in the middle, an ID and a name column to leave out.
const table = 'id,name,a,label,b\n' + Array.from({ length: 40 }, (_, i) => `${1000 + i},"row ${i}",${i},${i % 2 ? 'yes' : 'no'},${2 * i}`).join('\n') + '\n';

describe('CSV columns that are not inputs', () => {
  it('leaves out ignored columns by name or file index; the label may sit anywhere', () => {
    const p = csv(table);
    for (const ignore of [['id', 'name'], ['0', '1'], [0, 'name']] as const) {
      withData({ path: p, label: 'label', ignore, standardize: false }, (d) => {
        expect(d.inputShape).toEqual([2]);
        expect(d.classNames).toEqual(['no', 'yes']);
        for (const s of [d.train, d.val, d.test]) {
          (s.x.arraySync() as number[][]).forEach((r, k) => {
            expect(r[1]).toBe(2 * r[0]); // a, b: the inputs in file order
            expect(d.classNames[s.labels[k]]).toBe(r[0] % 2 ? 'yes' : 'no');
          });
        }
      });
    }
  });

  it('without --label, the label is the last column not ignored (ignoring the file\'s last column makes the one before it the label)', () => {
    // id, a, c, label, b: b ignored, so the label is the fourth column.
    const p = csv('id,a,c,label,b\n' + Array.from({ length: 40 }, (_, i) => `${1000 + i},${i},${3 * i},${i % 2 ? 'yes' : 'no'},${2 * i}`).join('\n') + '\n');
    withData({ path: p, ignore: ['id', 'b'], standardize: false }, (d) => {
      expect(d.inputShape).toEqual([2]);
      expect(d.targetNames).toEqual(['label']);
      expect(d.classNames).toEqual(['no', 'yes']);
    });
    // Numeric targets of a two-output model: the last two columns not ignored.
    withData({ path: p, ignore: ['label', 'b'], targets: 2, standardize: false }, (d) => {
      expect(d.inputNames).toEqual(['id']);
      expect(d.targetNames).toEqual(['a', 'c']);
    });
  });

  it('says which column is text and names the option when one is not ignored', () => {
    const p = csv(table);
    const e = thrown(() => loadCsv({ path: p, label: 'label', ignore: ['id'] }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe(`${p} line 2, column 'name': 'row 0' is not a number; the label column is 'label' (another: --label); columns that are not inputs are left out with --ignore-columns, and a categorical input is given as the model was trained on it, encoded as numbers (e.g. one 0/1 column per category)`);
  });

  it('refuses a column both ignored and the label, an unknown column, and no input left', () => {
    const p = csv(table);
    expect(thrown(() => loadCsv({ path: p, label: 'label', ignore: ['label'] }))).toBeInstanceOf(UsageError);
    const unknown = thrown(() => loadCsv({ path: p, label: 'label', ignore: ['ID'] }));
    expect(unknown).toBeInstanceOf(DataError);
    expect(unknown.message).toContain("no ignored column 'ID' (did you mean 'id'? names match exactly, letter case included); columns are: 'id', 'name', 'a', 'label', 'b'");
    expect(thrown(() => loadCsv({ path: p, label: 'label', ignore: ['id', 'name', 'a', 'b'] })).message).toContain('no input column left');
    // Several label columns of a classifier are one-hot classes: numbers that are not are refused, naming the row.
    expect(thrown(() => loadCsv({ path: p, label: ['a', 'b'], ignore: ['name', 'label'] })).message).toContain('line 2: the label columns a, b hold 0, 0; several label columns of a classifier are read as one-hot classes');
  });

  it('refuses a name the header gives to two columns when an option names it; by index it is taken', () => {
    // A spreadsheet export with a repeated name: 'x1' is an ID in column 0 and a feature in column 2.
    const p = csv('x1,label,x1,x2\n' + Array.from({ length: 30 }, (_, i) => `${100 + i},${i % 2},${i},${3 * i}`).join('\n') + '\n');
    const e = thrown(() => loadCsv({ path: p, label: 'label', ignore: ['x1'] }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe(`${p} line 1: the header names two columns 'x1' (indices 0 and 2), so the ignored column is ambiguous: rename one, or give the ignored column by its index`);
    withData({ path: p, label: 'label', ignore: ['0'], standardize: false }, (d) => {
      expect(d.inputNames).toEqual(['x1', 'x2']);
      expect(rowsOf(d).map((r) => r[0]).sort((a, b) => a - b)[0]).toBe(0); // the feature x1, not the ID
    });
  });

  it('names the columns of a file without a header row by their file index', () => {
    const p = csv(Array.from({ length: 30 }, (_, i) => `${i},${i % 2},${2 * i}`).join('\n') + '\n');
    withData({ path: p, label: 1, standardize: false }, (d) => {
      expect(d.inputNames).toEqual(['column 0', 'column 2']);
      expect(d.targetNames).toEqual(['column 1']);
    });
  });

  it('applies the same plan to separate validation and test files, and checks their header', () => {
    const p = csv(table);
    const v = csv(table);
    withData({ path: p, valPath: v, testPath: v, label: 'label', ignore: ['id', 'name'], standardize: false }, (d) => {
      expect(d.val.labels.length).toBe(40);
      expect((d.val.x.arraySync() as number[][])[3]).toEqual([3, 6]);
    });
    const other = csv(table.replace('id,name', 'key,name'));
    expect(thrown(() => loadCsv({ path: p, valPath: other, label: 'label', ignore: ['id', 'name'] })).message).toContain('differs from');
  });
});

describe('k target columns named with --label', () => {
  // Two 0/1 labels before the inputs: y2 = i odd, y1 = i % 3 == 0.
  const multi = 'y1,y2,id,x1,x2\n' + Array.from({ length: 30 }, (_, i) => `${i % 3 === 0 ? 1 : 0},${i % 2},${i},${i / 10},${-i}`).join('\n') + '\n';

  it('reads them in the given order (the model outputs), with the other columns as inputs', () => {
    const p = csv(multi);
    withData({ path: p, targets: 2, label: ['y2', 'y1'], ignore: ['id'], standardize: false }, (d) => {
      expect(d.inputShape).toEqual([2]);
      expect(d.targetNames).toEqual(['y2', 'y1']);
      for (const s of [d.train, d.val, d.test]) {
        const x = s.x.arraySync() as number[][];
        const y = s.y!.arraySync() as number[][];
        x.forEach((r, k) => {
          const i = Math.abs(r[1]);
          expect(y[k]).toEqual([i % 2, i % 3 === 0 ? 1 : 0]);
        });
      }
    });
    // Without --label: the file's last k columns, after the ignored ones are left out.
    withData({ path: p, targets: 1, ignore: ['id'], standardize: false }, (d) => {
      expect(d.targetNames).toEqual(['x2']);
      expect(rowsOf(d)[0]).toHaveLength(3);
    });
  });

  it('a regression target column of words: the error says the last column was taken for want of --label', () => {
    // a, b, kind (words): with no --label a 1-output regression model's target is the file's last column, here the
    // text column, and the message says why it was read.
    const p = csv('a,b,kind\n' + Array.from({ length: 20 }, (_, i) => `${i},${2 * i},${i % 2 ? 'cat' : 'dog'}`).join('\n') + '\n');
    const e = thrown(() => loadCsv({ path: p, targets: 1 }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe(`${p} line 2, column 'kind': 'dog' is not a finite number (the targets are numbers); no --label was given, so the file's last column is taken as the model's target: name it with --label, and leave columns that are not inputs out with --ignore-columns`);
    // Named, the target is read from that column and the message does not guess.
    expect(thrown(() => loadCsv({ path: p, targets: 1, label: 'kind' })).message).toBe(`${p} line 2, column 'kind': 'dog' is not a finite number (the targets are numbers)`);
    withData({ path: p, targets: 1, label: 'b', ignore: ['kind'], standardize: false }, (d) => expect(d.targetNames).toEqual(['b']));
  });

  it('refuses a count of columns that is not the model outputs, and --label for an autoencoder', () => {
    const p = csv(multi);
    const e = thrown(() => loadCsv({ path: p, targets: 3, label: ['y1', 'y2'] }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain('--label names 2 column(s) but the model has 3 output(s)');
    expect(thrown(() => loadCsv({ path: p, targets: 'inputs', label: ['y1'] }))).toBeInstanceOf(UsageError);
    expect(thrown(() => loadCsv({ path: p, targets: 2, label: ['y1', 'y1'] })).message).toContain("names column 'y1' twice");
  });

  it('a word in one of the last k target columns (no --label) is named as a target, not sent to --label', () => {
    const p = csv('x1,x2,rainy,sunny\n' + Array.from({ length: 20 }, (_, i) => `${i},${-i},${i === 3 ? 'no' : i % 2},${(i + 1) % 2}`).join('\n') + '\n');
    const e = thrown(() => loadCsv({ path: p, targets: 2 }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/line 5, column 'rainy': 'no' is not a number; it is one of the model's target columns, which hold numbers/);
    expect(e.message).not.toContain('--label');
  });
});
