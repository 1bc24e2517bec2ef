/** The output folder's lock: a second run on the same folder fails at once, also within one process. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockFileFor, lockOutDir } from '../../src/output-dir.js';
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

  it('records who holds it, so that a reused pid, another host or another container is not taken for the holder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoprune-lock-'));
    const out = join(dir, 'out');
    const file = lockFileFor(out);
    const release = lockOutDir(out);
    const me = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; host: string; start?: string };
    expect(me.pid).toBe(process.pid);
    expect(typeof me.host).toBe('string');
    release();
    mkdirSync(dirname(file), { recursive: true });
    // pid 1 is alive, but started at another time than the lock says: a reused pid, the lock is stale and taken over.
    writeFileSync(file, JSON.stringify({ pid: 1, host: me.host, start: 'never' }));
    lockOutDir(out)();
    // A lock of another host (or container): its pid means nothing here; refused, saying so and which file to delete.
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ pid: 4242, host: 'build-7' }));
    expect(() => lockOutDir(out)).toThrow(/locked by an autoprune run of pid 4242 on build-7, which this process cannot see .*if no run is active there, delete '/);
    // The bare pid of older locks still reads: a pid with no process is stale.
    writeFileSync(file, '4194305');
    lockOutDir(out)();
    rmSync(dir, { recursive: true, force: true });
  });
});
