import { linkSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { META_COLUMNS, metaColumn, readMeta, writeMeta } from '../../src/meta/format.js';
import { tempDir } from '../helpers.js';

function sample(dir: string) {
  const names = ['abs_w', 'taylor'];
  const columns = [...names, ...META_COLUMNS];
  const data = Float32Array.from({ length: 4 * columns.length }, (_, i) => (i % 7) / 3 - 0.5);
  const path = join(dir, 'meta-x.json');
  const header = writeMeta(path, {
    family: 'mlp', featureSchema: { version: 1, names }, columns, targets: [0.5, 0.9], stages: [0, 0.5],
    sampling: { maxRowsPerLayerPerStage: 10, seed: 1 }, oracle: { candidateEpochs: 1 }, models: [], command: 'test', createdAt: 'now',
  }, data);
  return { path, header, data };
}

describe('meta-dataset format', () => {
  it('round-trips header and rows exactly', () => {
    const { path, header, data } = sample(tempDir());
    const ds = readMeta(path);
    expect(ds.header).toEqual(header);
    expect(ds.header.rows).toBe(4);
    expect(ds.header.data).toBe('meta-x.bin');
    expect(Array.from(ds.data)).toEqual(Array.from(data));
    expect(metaColumn(ds, 'label')[1]).toBe(data[1 * 7 + 2]);
  });

  it('replaces a link at the header or rows path, never writing through it (a symlink or hard link to a user file)', () => {
    const dir = tempDir();
    const precious = join(dir, 'weights.bin');
    writeFileSync(precious, 'user weights');
    const data = join(dir, 'd.csv');
    writeFileSync(data, 'a,b\n1,2\n');
    symlinkSync(precious, join(dir, 'meta-x.bin'));
    linkSync(data, join(dir, 'meta-x.json'));
    const { path } = sample(dir);
    expect(readFileSync(precious, 'utf8')).toBe('user weights');
    expect(readFileSync(data, 'utf8')).toBe('a,b\n1,2\n');
    expect(lstatSync(join(dir, 'meta-x.bin')).isSymbolicLink()).toBe(false);
    expect(readMeta(path).header.rows).toBe(4);
    // Read back through a link to another folder: refused (a header's rows linked to /etc/passwd were read).
    const other = tempDir();
    const lonely = join(other, 'meta-x.json');
    writeFileSync(lonely, readFileSync(path));
    symlinkSync(join(dir, 'meta-x.bin'), join(other, 'meta-x.bin'));
    expect(() => readMeta(lonely)).toThrow(/meta-dataset rows '.*meta-x\.bin' link outside the header's folder/);
  });

  it('round-trips gzipped rows (NAME.bin.gz) and reports corrupt gzip clearly', () => {
    const dir = tempDir();
    const { path, header, data } = sample(dir);
    const gz = join(dir, 'meta-z.json');
    const { format: _f, version: _v, rows: _r, data: _d, dtype: _t, ...rest } = header;
    writeMeta(gz, rest, data, { gzip: true });
    const ds = readMeta(gz);
    expect(ds.header.data).toBe('meta-z.bin.gz');
    expect(Array.from(ds.data)).toEqual(Array.from(readMeta(path).data));
    writeFileSync(join(dir, 'meta-z.bin.gz'), 'not gzip');
    expect(() => readMeta(gz)).toThrow(/meta-z.bin.gz' are not valid gzip/);
  });

  it('gives clear errors for a missing, foreign, truncated or mismatched file', () => {
    const dir = tempDir();
    expect(() => readMeta(join(dir, 'nope.json'))).toThrow(/does not exist/);
    const { path } = sample(dir);
    const bin = path.replace('.json', '.bin');
    writeFileSync(bin, readFileSync(bin).subarray(0, 10));
    expect(() => readMeta(path)).toThrow(/bytes/);
    const h = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...h, format: 'other' }));
    expect(() => readMeta(path)).toThrow(/not an autoprune meta-dataset/);
    writeFileSync(path, JSON.stringify({ ...h, columns: ['a'] }));
    expect(() => readMeta(path)).toThrow(/columns/);
    writeFileSync(path, '{');
    expect(() => readMeta(path)).toThrow(/not valid JSON/);
    // The header copied away from its rows file: both names said, and where it looked.
    const lone = join(tempDir(), 'lonely.json');
    writeFileSync(lone, JSON.stringify(h));
    expect(() => readMeta(lone)).toThrow(/meta-dataset '.*lonely\.json' keeps its rows in 'meta-x\.bin', which is not beside it \(looked for \/.*\/meta-x\.bin\): a meta-dataset is its \.json and that rows file together/);
    // A header naming a file elsewhere is refused before anything is read there (a tampered one read /etc/passwd).
    for (const data of ['../../../etc/passwd', 'sub/meta-x.bin', '..']) {
      writeFileSync(lone, JSON.stringify({ ...h, data }));
      expect(() => readMeta(lone)).toThrow(/names its rows file '.*', which is not a file name beside it/);
    }
  });
});
