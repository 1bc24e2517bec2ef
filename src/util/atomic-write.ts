import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Writes one file atomically and synchronously: to a temporary sibling (created exclusively), flushed to disk,
 * then renamed over `file`, so a reader (or a run killed mid-write) sees the old contents or the new, never a torn
 * file. The parent folder must exist. Errors are the file system's (callers name them in their own terms); the
 * temporary file is removed on failure. The asynchronous writer of a run's outputs (report/write.ts
 * `atomicWriteFile`) does the same with its own error messages.
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const abs = resolve(file);
  const dir = dirname(abs);
  const tmp = join(dir, `.${basename(abs)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, abs);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  syncDirSync(dir);
}

/** Flushes a folder's entries (a rename in it) to disk; best effort, as some file systems refuse. */
function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Durability only: the rename itself already happened.
  }
}
