import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/util/make-dirs.js';
import { tempDir } from '../temp.js';

describe('makeDirs', () => {
  it('makes the missing folders one level at a time, and an existing one is no error', () => {
    const d = join(tempDir(), 'a', 'b', 'c');
    makeDirs(d);
    expect(existsSync(d)).toBe(true);
    expect(() => makeDirs(d)).not.toThrow();
    // A file where a folder should be, or above it: ENOTDIR, as mkdir says.
    const file = join(tempDir(), 'f');
    writeFileSync(file, 'x');
    for (const p of [file, join(file, 'sub')]) expect(() => makeDirs(p)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it.runIf(process.platform === 'linux')('fails at once under /proc, where recursive mkdirSync loops forever (AUTOPRUNE_CACHE_DIR=/proc/x hung)', () => {
    expect(() => makeDirs('/proc/autoprune-test/x')).toThrow(/ENOENT/);
  });
});
