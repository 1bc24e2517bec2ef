/**
 * Writing run outputs so that a crash, a full disk or Ctrl-C never leaves a half-written output folder
 * or file behind: everything goes to a temporary sibling first (same folder, so the same file system)
 * and is renamed into place, which POSIX makes atomic.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../util/make-dirs.js';
import { AutopruneError, UsageError } from '../errors.js';

/** One file of an output folder. */
export interface OutputFile {
  /** Path inside the output folder, '/'-separated; must stay inside it. */
  relPath: string;
  /** Contents; strings are written as UTF-8. */
  data: string | Uint8Array;
}

/** Settings of writeOutputsAtomically. */
export interface WriteOutputsOptions {
  /** Replace an existing non-empty output folder (its old contents are removed, not merged). */
  overwrite: boolean;
  /**
   * The entries of the existing folder that are not the writer's own, looked up again right before it is replaced: the
   * check before a long run cannot see a file put there during it. Any found: the folder is left as it is and the new
   * outputs are kept beside it (an AutopruneError, exit 1, says where).
   */
  foreign?: (dir: string) => string[];
}

/** What writeOutputsAtomically wrote. */
export interface WrittenOutputs {
  /** Absolute path of the output folder. */
  dir: string;
  /** Absolute paths of the files written, in the order given. */
  files: string[];
}

/** Error codes that mean "this place cannot be written", which the user fixes by choosing another. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOENT', 'ENOSPC', 'EDQUOT', 'EISDIR']);

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Turns an fs error about `where` into a UsageError naming it, or returns it unchanged. */
function asWriteError(err: unknown, where: string, hint: string): unknown {
  const code = errCode(err);
  if (err instanceof UsageError || !code || !UNWRITABLE.has(code)) return err;
  const reason = (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  // A full disk or quota is the machine's state, not bad input (exit 2 means "fix the input"): exit 1, free space and rerun.
  if (code === 'ENOSPC' || code === 'EDQUOT') return new AutopruneError(`cannot write '${where}': ${reason} (${code}); free space and rerun`);
  return new UsageError(`cannot write '${where}': ${reason} (${code}); ${hint}`);
}

/**
 * Whether `dir` is a mount point: on another device than its parent, or (a bind mount of the same file system)
 * listed as one in /proc/self/mountinfo (Linux; elsewhere the device test alone).
 */
export function isMountPoint(dir: string): boolean {
  try {
    const real = realpathSync(dir);
    if (statSync(real).dev !== statSync(path.dirname(real)).dev) return true;
    const info = readFileSync('/proc/self/mountinfo', 'utf8');
    // Field 5 is the mount point, with spaces and the like written as octal escapes.
    return info.split('\n').some((line) => line.split(' ')[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === real);
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (err) { return errCode(err) === 'EPERM'; }
}

/**
 * Cleans up after a writer killed mid-swap (kill -9 between its renames): when `out` is gone and the previous
 * outputs sit moved aside (`.<name>.old-<pid>-…` of a process no longer running), they are moved back; the dead
 * writers' temporary and moved-aside folders are removed. Returns what was done, for a notice.
 */
export function recoverInterruptedWrite(out: string): { restored: boolean; removed: number } {
  const abs = path.resolve(out);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  let entries: string[];
  try { entries = readdirSync(parent); } catch { return { restored: false, removed: 0 }; }
  const esc = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const stale = entries
    .map((e) => ({ e, m: new RegExp(`^\\.${esc}\\.(tmp|old)-(\\d+)-[0-9a-f]+$`).exec(e) }))
    .filter((x): x is { e: string; m: RegExpExecArray } => x.m != null && !alive(Number(x.m[2])));
  let restored = false;
  const aside = stale.find((x) => x.m[1] === 'old');
  if (aside && !existsSync(abs)) {
    renameSync(path.join(parent, aside.e), abs);
    restored = true;
  }
  let removed = 0;
  for (const { e } of stale) {
    if (restored && e === aside!.e) continue;
    rmSync(path.join(parent, e), { recursive: true, force: true });
    removed++;
  }
  return { restored, removed };
}

const suffix = (): string => `${process.pid}-${randomBytes(4).toString('hex')}`;

/** Writes `data` to `file` and flushes it to disk before returning. */
async function writeSynced(file: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes a folder's entries (the renames in it) to disk; best effort, as some file systems refuse. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Durability only; the rename itself already happened.
  }
}

/** Checks that relPath is a relative path that stays inside its folder. */
function checkRelPath(relPath: string): string {
  const norm = path.normalize(relPath);
  if (!relPath || path.isAbsolute(relPath) || norm === '.' || norm === '..' || norm.startsWith(`..${path.sep}`)) {
    throw new Error(`output file path '${relPath}' must be a relative path inside the output folder`);
  }
  return norm;
}

/**
 * Writes `files` as the folder `outDir`, all or nothing: they are written into a temporary sibling
 * folder, which is then renamed to `outDir`. An existing empty folder is replaced; an existing
 * non-empty one only with `overwrite` (it is then replaced as a whole, never merged). The parent
 * folder is created if missing. On any failure nothing is left behind and an existing folder is kept.
 * Throws UsageError (exit 2) when the folder exists and may not be overwritten, or cannot be written.
 */
export async function writeOutputsAtomically(
  outDir: string,
  files: OutputFile[],
  opts: WriteOutputsOptions,
): Promise<WrittenOutputs> {
  const out = path.resolve(outDir);
  const parent = path.dirname(out);
  const base = path.basename(out);
  const rels = files.map((f) => checkRelPath(f.relPath));
  const dupes = rels.filter((r, i) => rels.indexOf(r) !== i);
  if (dupes.length > 0) throw new Error(`output file '${dupes[0]}' is listed twice`);
  const hint = 'choose another --out';

  let existing = false;
  let mountPoint = false;
  try {
    const st = await lstat(out);
    existing = true;
    // A mount point (a container's `-v host:/out`) cannot be renamed: written in place below.
    mountPoint = st.isDirectory() && isMountPoint(out);
    if (!st.isDirectory()) throw new UsageError(`output path '${outDir}' exists and is not a folder; choose another --out`);
    const entries = await readdir(out);
    if (entries.length > 0 && !opts.overwrite) {
      throw new UsageError(`output folder '${outDir}' already exists; pass --overwrite or choose another --out`);
    }
    const cwd = path.resolve(process.cwd());
    if (out === parent || cwd === out || cwd.startsWith(out + path.sep)) {
      throw new UsageError(`refusing to replace output folder '${outDir}': it contains the current working directory; choose another --out`);
    }
  } catch (err) {
    // ENOTDIR: a parent is a file; mkdir below reports that, naming the parent.
    const code = errCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw asWriteError(err, outDir, hint);
  }

  try {
    makeDirs(parent);
  } catch (err) {
    const code = errCode(err);
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new UsageError(`cannot write into '${parent}': it or a folder above it is a file; choose another --out`);
    }
    throw asWriteError(err, parent, hint);
  }
  if (mountPoint) return writeInPlace(out, outDir, files, rels, hint);
  const tmp = path.join(parent, `.${base}.tmp-${suffix()}`);
  try {
    await mkdir(tmp);
  } catch (err) {
    throw asWriteError(err, parent, hint);
  }

  await writeFilesInto(tmp, files, rels, outDir, hint);

  const added = existing && opts.foreign ? opts.foreign(out) : [];
  if (added.length > 0) {
    const kept = path.join(parent, `${base}.autoprune-${suffix()}`);
    try {
      await rename(tmp, kept);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw asWriteError(err, kept, hint);
    }
    throw new AutopruneError(`output folder '${outDir}' gained ${added.length === 1 ? 'an entry' : 'entries'} autoprune does not write during the run (${added.slice(0, 3).join(', ')}${added.length > 3 ? ', …' : ''}): ` +
      `not replaced, so nothing in it is deleted; this run's outputs are in '${kept}'`);
  }
  // Move any old folder aside first: rename() cannot replace a non-empty folder.
  const old = existing ? path.join(parent, `.${base}.old-${suffix()}`) : undefined;
  try {
    if (old) await rename(out, old);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // A mount point the check did not recognise (EBUSY: the kernel refuses to move it): written in place.
    if (errCode(err) === 'EBUSY') return writeInPlace(out, outDir, files, rels, hint);
    throw asWriteError(err, outDir, hint);
  }
  try {
    await rename(tmp, out);
  } catch (err) {
    if (old) await rename(old, out).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    const code = errCode(err);
    // Someone created the folder between the check and the rename.
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      throw new UsageError(`output folder '${outDir}' already exists; pass --overwrite or choose another --out`);
    }
    throw asWriteError(err, outDir, hint);
  }
  await syncDir(parent);
  if (old) await rm(old, { recursive: true, force: true });
  return { dir: out, files: rels.map((r) => path.join(out, r)) };
}

/** Writes every file into the temporary folder `tmp`; on a failure removes it and names the file in `outDir`. */
async function writeFilesInto(tmp: string, files: OutputFile[], rels: string[], outDir: string, hint: string): Promise<void> {
  let current = '';
  try {
    for (let i = 0; i < files.length; i++) {
      current = rels[i];
      const dest = path.join(tmp, current);
      makeDirs(path.dirname(dest));
      await writeSynced(dest, files[i].data);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw asWriteError(err, path.join(outDir, current), hint);
  }
}

/**
 * The outputs written into `out` itself, for a folder that is a mount point (it cannot be renamed, and a
 * sibling is on another file system): into a temporary folder inside it first, then the old entries (a previous
 * run's, as --overwrite checked) are removed and the new ones renamed into place. Not all-or-nothing like the
 * sibling swap, but a failure while writing still leaves the old outputs as they were.
 */
async function writeInPlace(out: string, outDir: string, files: OutputFile[], rels: string[], hint: string): Promise<WrittenOutputs> {
  const tmp = path.join(out, `.autoprune.tmp-${suffix()}`);
  try {
    await mkdir(tmp);
  } catch (err) {
    throw asWriteError(err, outDir, hint);
  }
  await writeFilesInto(tmp, files, rels, outDir, hint);
  const fresh = await readdir(tmp);
  for (const e of await readdir(out)) if (!e.startsWith('.autoprune.tmp-')) await rm(path.join(out, e), { recursive: true, force: true });
  for (const e of fresh) await rename(path.join(tmp, e), path.join(out, e));
  await rm(tmp, { recursive: true, force: true });
  await syncDir(out);
  return { dir: out, files: rels.map((r) => path.join(out, r)) };
}

/**
 * Writes one file atomically: to a temporary sibling, flushed, then renamed over `file`, so readers
 * see either the old contents or the new, never a torn file. Creates the parent folder if missing.
 * Throws UsageError (exit 2) naming the path when it cannot be written.
 */
export async function atomicWriteFile(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${suffix()}`);
  const hint = 'choose another location';
  try {
    makeDirs(dir);
    await writeSynced(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw asWriteError(err, file, hint);
  }
  await syncDir(dir);
}
