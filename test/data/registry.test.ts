import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { DATASETS, loadDataset } from '../../src/data/registry.js';
import { DataError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'autoprune-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadDataset', () => {
  it('has a frozen table of built-in datasets', () => {
    expect(Object.isFrozen(DATASETS)).toBe(true);
    expect(Object.keys(DATASETS).sort()).toEqual(['mnist-10k', 'synthetic']);
  });

  it('loads the synthetic dataset by name, passing the seed', () => {
    const a = loadDataset('synthetic', { seed: 5 });
    const b = loadDataset('synthetic', { seed: 5 });
    try {
      expect(a.name).toBe('synthetic');
      expect(Array.from(a.train.labels)).toEqual(Array.from(b.train.labels));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("loads MNIST-10k as 'mnist' and 'mnist-10k'", () => {
    for (const spec of ['mnist', 'mnist-10k']) {
      const d = loadDataset(spec);
      try {
        expect(d.name).toBe('mnist-10k');
        expect(d.val.labels.length).toBe(997);
      } finally {
        d.dispose();
      }
    }
  });

  it('loads a .csv path with label, split and seed', () => {
    const p = join(dir, 'Data.CSV');
    writeFileSync(p, 'y,a,b\n' + Array.from({ length: 20 }, (_, i) => `${i % 2 ? 'on' : 'off'},${i},${i * i}`).join('\n'));
    const before = tf.memory().numTensors;
    const d = loadDataset(p, { label: 'y', split: [0.5, 0.25, 0.25], seed: 1 });
    try {
      expect(d.name).toBe('Data.CSV');
      expect(d.classNames).toEqual(['off', 'on']);
      expect([d.train, d.val, d.test].map((s) => s.labels.length)).toEqual([10, 5, 5]);
    } finally {
      d.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an unknown name with the list of valid ones', () => {
    let caught: unknown;
    try {
      loadDataset('foo');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DataError);
    expect((caught as DataError).exitCode).toBe(2);
    expect((caught as DataError).message).toBe(
      "unknown dataset 'foo' (no such file); use one of: mnist-10k, synthetic, or the path of a data file (.csv, .tsv or .txt; comma, semicolon or tab separated)");
  });

  it('reports a missing .csv file as a DataError', () => {
    expect(() => loadDataset(join(dir, 'missing.csv'))).toThrow(/data file .*missing\.csv' does not exist/);
  });
});
