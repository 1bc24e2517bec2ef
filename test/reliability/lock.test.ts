/** The output folder's lock: a second run on the same folder fails at once, also within one process. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockFileFor, lockOutDir } from '../../src/prune-service.js';
import { UsageError } from '../../src/errors.js';

describe('lockOutDir', () => {
  it('refuses a second lock of the same folder from this process until the first is released', () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoprune-lock-'));
    const out = join(dir, 'out');
    const release = lockOutDir(out);
    expect(existsSync(lockFileFor(out))).toBe(true);
    expect(() => lockOutDir(out)).toThrow(UsageError);
    expect(() => lockOutDir(out)).toThrow(/in use by another autoprune run in this process/);
    // Another folder is not affected.
    const other = lockOutDir(join(dir, 'other'));
    other();
    release();
    expect(existsSync(lockFileFor(out))).toBe(false);
    lockOutDir(out)();
    rmSync(dir, { recursive: true, force: true });
  });
});
