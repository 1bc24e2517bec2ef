import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError, exitCodeOf } from '../../src/errors.js';
import { atomicWriteFile, recoverInterruptedWrite, writeOutputsAtomically } from '../../src/report/write.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'autoprune-write-'));
});
afterEach(() => {
  chmodSync(root, 0o700);
  rmSync(root, { recursive: true, force: true });
});

const files = [
  { relPath: 'report.json', data: '{"ok":true}\n' },
  { relPath: 'report.html', data: '<!doctype html>' },
  { relPath: 'model/group1-shard1of1.bin', data: new Uint8Array([1, 2, 3, 250]) },
];

/** Entries of `root` other than the given ones: leftovers such as temp folders. */
const leftovers = (...expected: string[]) => readdirSync(root).filter((n) => !expected.includes(n));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('writeOutputsAtomically', () => {
  it('writes every file, nested folders included, and leaves no temp folder', async () => {
    const out = path.join(root, 'run');
    const res = await writeOutputsAtomically(out, files, { overwrite: false });
    expect(res.dir).toBe(out);
    expect(res.files).toEqual(files.map((f) => path.join(out, f.relPath)));
    expect(readFileSync(path.join(out, 'report.json'), 'utf8')).toBe('{"ok":true}\n');
    expect([...readFileSync(path.join(out, 'model/group1-shard1of1.bin'))]).toEqual([1, 2, 3, 250]);
    expect(leftovers('run')).toEqual([]);
  });

  it('leaves a folder that gained foreign entries during the run as it is, and keeps the new outputs beside it (exit 1)', async () => {
    const out = path.join(root, 'run');
    await writeOutputsAtomically(out, files, { overwrite: false });
    writeFileSync(path.join(out, 'NOTES.txt'), 'mine'); // put there while a second run was going
    const foreign = (d: string) => readdirSync(d).filter((e) => !['report.json', 'report.html', 'model'].includes(e));
    const err = await rejection(writeOutputsAtomically(out, [{ relPath: 'report.json', data: 'new' }], { overwrite: true, foreign }));
    expect(exitCodeOf(err)).toBe(1);
    expect(err.message).toMatch(/^output folder '.*run' gained an entry autoprune does not write during the run \(NOTES\.txt\): not replaced, so nothing in it is deleted; this run's outputs are in '.*run\.autoprune-[\w-]+'$/);
    expect(readFileSync(path.join(out, 'NOTES.txt'), 'utf8')).toBe('mine');
    expect(readFileSync(path.join(out, 'report.json'), 'utf8')).toBe('{"ok":true}\n');
    const kept = leftovers('run');
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(root, kept[0], 'report.json'), 'utf8')).toBe('new');
    // Nothing foreign: replaced as before.
    rmSync(path.join(out, 'NOTES.txt'));
    await writeOutputsAtomically(out, [{ relPath: 'report.json', data: 'newer' }], { overwrite: true, foreign });
    expect(readFileSync(path.join(out, 'report.json'), 'utf8')).toBe('newer');
  });

  it('after a writer killed mid-swap: the moved-aside outputs come back, dead writers\' temp folders go', async () => {
    const out = path.join(root, 'run');
    // A pid no process has (above the kernel's pid_max), as a kill -9 leaves it.
    const dead = 4194305;
    mkdirSync(path.join(root, `.run.old-${dead}-0a1b2c3d`));
    writeFileSync(path.join(root, `.run.old-${dead}-0a1b2c3d`, 'report.json'), 'previous');
    mkdirSync(path.join(root, `.run.tmp-${dead}-0a1b2c3e`));
    mkdirSync(path.join(root, `.run.tmp-${process.pid}-0a1b2c3f`)); // a live writer's: kept
    mkdirSync(path.join(root, `.other.old-${dead}-0a1b2c40`)); // another output's: not this one's business
    expect(recoverInterruptedWrite(out)).toEqual({ restored: true, removed: 1 });
    expect(readFileSync(path.join(out, 'report.json'), 'utf8')).toBe('previous');
    expect(leftovers('run').sort()).toEqual([`.other.old-${dead}-0a1b2c40`, `.run.tmp-${process.pid}-0a1b2c3f`]);
    // With the folder in place, a stale moved-aside copy is only removed.
    mkdirSync(path.join(root, `.run.old-${dead}-0a1b2c41`));
    expect(recoverInterruptedWrite(out)).toEqual({ restored: false, removed: 1 });
    expect(existsSync(path.join(out, 'report.json'))).toBe(true);
  });

  it('creates a missing parent folder', async () => {
    const out = path.join(root, 'a', 'b', 'run');
    await writeOutputsAtomically(out, files, { overwrite: false });
    expect(existsSync(path.join(out, 'report.html'))).toBe(true);
  });

  it('fills an existing empty folder', async () => {
    const out = path.join(root, 'run');
    mkdirSync(out);
    await writeOutputsAtomically(out, files, { overwrite: false });
    expect(readdirSync(out).sort()).toEqual(['model', 'report.html', 'report.json']);
  });

  it('refuses to overwrite a non-empty folder without overwrite, and leaves it untouched', async () => {
    const out = path.join(root, 'run');
    mkdirSync(out);
    writeFileSync(path.join(out, 'keep.txt'), 'mine');
    const err = await rejection(writeOutputsAtomically(out, files, { overwrite: false }));
    expect(err).toBeInstanceOf(UsageError);
    expect(exitCodeOf(err)).toBe(2);
    expect(err.message).toBe(`output folder '${out}' already exists; pass --overwrite or choose another --out`);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(leftovers('run')).toEqual([]);
  });

  it('replaces the whole folder with overwrite', async () => {
    const out = path.join(root, 'run');
    mkdirSync(out);
    writeFileSync(path.join(out, 'stale.txt'), 'old');
    await writeOutputsAtomically(out, files, { overwrite: true });
    expect(readdirSync(out).sort()).toEqual(['model', 'report.html', 'report.json']);
    expect(leftovers('run')).toEqual([]);
  });

  it('refuses a path that is a file', async () => {
    const out = path.join(root, 'run');
    writeFileSync(out, 'x');
    const err = await rejection(writeOutputsAtomically(out, files, { overwrite: true }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('is not a folder');
  });

  it('refuses to replace a folder holding the working directory', async () => {
    const err = await rejection(writeOutputsAtomically(process.cwd(), files, { overwrite: true }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('current working directory');
  });

  it('leaves nothing behind when a write fails midway, and keeps the old folder', async () => {
    const out = path.join(root, 'run');
    mkdirSync(out);
    writeFileSync(path.join(out, 'keep.txt'), 'mine');
    // 'a' is written as a file, so 'a/b' cannot be created after it.
    const bad = [...files, { relPath: 'a', data: 'x' }, { relPath: 'a/b', data: 'y' }];
    const err = await rejection(writeOutputsAtomically(out, bad, { overwrite: true }));
    expect(err.message).toContain(path.join(out, 'a/b'));
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(leftovers('run')).toEqual([]);

    const fresh = path.join(root, 'fresh');
    await rejection(writeOutputsAtomically(fresh, bad, { overwrite: false }));
    expect(existsSync(fresh)).toBe(false);
    expect(leftovers('run')).toEqual([]);
  });

  it('names an unwritable parent in a UsageError', async () => {
    const file = path.join(root, 'plain-file');
    writeFileSync(file, 'x');
    const out = path.join(file, 'run'); // the parent is a file
    const err = await rejection(writeOutputsAtomically(out, files, { overwrite: false }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain(`'${file}'`);
    expect(err.message).toContain('choose another --out');
    expect(err.message).toContain('is a file');
  });

  it.skipIf(process.getuid?.() === 0)('names a read-only parent in a UsageError (root ignores permissions)', async () => {
    const parent = path.join(root, 'ro');
    mkdirSync(parent);
    chmodSync(parent, 0o500);
    try {
      const err = await rejection(writeOutputsAtomically(path.join(parent, 'run'), files, { overwrite: false }));
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toContain(`'${parent}'`);
      expect(err.message).toContain('EACCES');
    } finally {
      chmodSync(parent, 0o700);
    }
  });

  it('rejects file paths that leave the folder', async () => {
    for (const relPath of ['../escape.txt', '/abs.txt', '', '.']) {
      await expect(writeOutputsAtomically(path.join(root, 'run'), [{ relPath, data: 'x' }], { overwrite: false })).rejects.toThrow(
        /must be a relative path inside the output folder/,
      );
    }
    expect(leftovers()).toEqual([]);
  });
});

describe('atomicWriteFile', () => {
  it('writes and replaces a file without leaving temp files', async () => {
    const file = path.join(root, 'sub', 'checkpoint.json');
    await atomicWriteFile(file, 'one');
    await atomicWriteFile(file, new TextEncoder().encode('two'));
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(path.join(root, 'sub'))).toEqual(['checkpoint.json']);
  });

  it('keeps the old contents and cleans up when the rename fails', async () => {
    const target = path.join(root, 'dir-in-the-way');
    mkdirSync(target);
    writeFileSync(path.join(target, 'x'), 'x');
    const err = await rejection(atomicWriteFile(target, 'data'));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain(`'${target}'`);
    expect(leftovers('dir-in-the-way')).toEqual([]);
  });
});
