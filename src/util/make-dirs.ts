import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` one folder at a time. Node's own `mkdirSync(path, { recursive: true })` loops forever, at full CPU and
 * without returning to the event loop (so no signal handler runs), on a path under /proc (`AUTOPRUNE_CACHE_DIR=/proc/x`:
 * a pipeline's timeout could only kill -9 it); made one level at a time, such a path fails at once with ENOENT.
 * Throws the file-system error of the first level that cannot be made.
 */
export function makeDirs(path: string, mode?: number): void {
  const abs = resolve(path);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    try {
      // The nearest existing level must be a folder (a file there fails as mkdir would: ENOTDIR).
      if (!statSync(p).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${abs}'`), { code: 'ENOTDIR' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, mode != null ? { mode } : undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
