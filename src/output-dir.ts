/**
 * The output folder and the cache a run writes to: where its checkpoint and lock live (in the cache, not beside
 * `--out`), what `--out`, `--overwrite`, `--resume` and `--logdir` may replace or write (never an input, never a folder
 * holding what autoprune did not write), and the lock that keeps two runs off one output folder.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { makeDirs } from './util/make-dirs.js';
import { cacheDir } from './models/cache.js';
import { Checkpointer } from './agent/checkpoint.js';
import { UsageError } from './errors.js';
import { danglingLink, jsonFormatOf, probeWritable, writableFolderFor } from './models/io.js';
import { isMountPoint, recoverInterruptedWrite } from './report/write.js';
import { realPathOf } from './util/real-path.js';

/**
 * The cache folder of the runs writing to `out` (its real path, hashed): their checkpoint and lock live there,
 * not beside `out`, so nothing is written outside `--out` and the cache, and `out` only ever appears complete.
 */
export function runDirFor(out: string): string {
  return join(cacheDir(), 'runs', createHash('sha256').update(realPathOf(resolve(out))).digest('hex').slice(0, 16));
}

/** Checkpoint folder of a run writing to `out` (in the cache: runDirFor). */
export function checkpointDirFor(out: string): string {
  return join(runDirFor(out), 'checkpoint');
}

/** Lock file of the runs writing to `out` (in the cache: runDirFor). */
export function lockFileFor(out: string): string {
  return join(runDirFor(out), 'lock');
}

function nonEmptyDir(p: string): boolean {
  return existsSync(p) && (!statSync(p).isDirectory() || readdirSync(p).length > 0);
}

/** The longest name (255 bytes) and path (4,096) Linux file systems take. */
const NAME_MAX = 255;
const PATH_MAX = 4096;
/** What the temporary name the outputs are first written under adds to the folder's name: `.NAME.tmp-PID-XXXXXXXX`. */
const TEMP_NAME_EXTRA = '.'.length + '.tmp-'.length + 7 + '-'.length + 8;

/**
 * A --out the file system cannot hold fails only when the outputs are written, after all the work (a new user's
 * 300-character name trained fully, then exit 1 with ENAMETOOLONG; a legal 250-character one too, as its temporary
 * name was longer): refused before anything runs.
 */
function checkOutLength(out: string, abs: string): void {
  const bytes = (s: string) => Buffer.byteLength(s);
  const parts = abs.split(sep).filter(Boolean);
  const long = parts.find((p) => bytes(p) > NAME_MAX);
  if (long) throw new UsageError(`output folder '${out}': a name in it is ${bytes(long)} bytes long ('${long.slice(0, 24)}…'), over the ${NAME_MAX} a file system takes; choose a shorter --out`);
  const name = bytes(basename(abs));
  if (name + TEMP_NAME_EXTRA > NAME_MAX) {
    throw new UsageError(`output folder '${out}': its name is ${name} bytes long, and the outputs are first written under a temporary name ${TEMP_NAME_EXTRA} bytes longer, over the ${NAME_MAX} a file system takes: at most ${NAME_MAX - TEMP_NAME_EXTRA}; choose a shorter --out`);
  }
  // The deepest file a run writes: frontier/<target>/compact/weights.bin, under its temporary folder name.
  if (bytes(abs) + TEMP_NAME_EXTRA + 64 > PATH_MAX) throw new UsageError(`output folder '${out}': its path is ${bytes(abs)} bytes long, too long for the files inside it (a path takes at most ${PATH_MAX}); choose a shorter --out`);
}

/**
 * Validates the output folder before any work starts, so a long run never fails at its last step. `inputs`
 * (the model's folder, data files) must not be the folder or inside it: replacing it would delete them.
 * Paths are compared as real paths (symlinks resolved), so a link to the model's folder is caught too.
 * The folder's parent must be writable: probed by creating and removing an empty folder there.
 */
export function checkOutDir(out: string, overwrite: boolean, resume: boolean, inputs: { what: string; path: string; folder?: boolean }[] = []): void {
  const abs = resolve(out);
  checkOutLength(out, abs);
  // A run killed while swapping in its outputs left them moved aside: they come back before anything is judged.
  recoverInterruptedWrite(abs);
  const real = realPathOf(abs);
  if (dirname(real) === real) throw new UsageError(`output folder '${out}' is a filesystem root; choose another --out`);
  const cwd = realPathOf(process.cwd());
  if (cwd === real || cwd.startsWith(real + sep)) {
    throw new UsageError(`output folder '${out}' holds the current working directory, which writing the outputs would delete; choose another --out`);
  }
  for (const input of inputs) {
    const p = realPathOf(input.path);
    if (p === real || p.startsWith(real + sep)) {
      throw new UsageError(p === real
        ? `output folder '${out}' is the ${input.folder && !/\bfolder\b/.test(input.what) ? `${input.what}'s folder` : input.what}, which writing the outputs would delete; choose another --out`
        : `output folder '${out}' holds the ${input.what} '${input.path}', which writing the outputs would delete; choose another --out`);
    }
    // A model's folder is never written to, not even a new subfolder (as --logdir there is refused). (A model.json
    // given by its path in the working folder, or above it, is not in a model folder: see inputsOf.)
    if (input.what === 'input model' && input.folder && real.startsWith(p + sep)) {
      throw new UsageError(`output folder '${out}' is inside the input model's folder '${input.path}', which is never written to; choose another --out`);
    }
  }
  // Inside another run's output folder (its frontier/<t>/, its model/, any folder in it): the outputs written there would
  // read as that run's (a new user's --out <run>/frontier/0.8 --overwrite replaced that row's model, which the run's
  // frontier.json still listed at 80 %).
  for (let up = dirname(real); dirname(up) !== up; up = dirname(up)) {
    if (isAutopruneOutput(up)) {
      throw new UsageError(`output folder '${out}' is inside another autoprune run's output folder '${up}', whose files would then describe other outputs; choose a --out outside it`);
    }
  }
  let link: string | undefined;
  try { link = lstatSync(abs).isSymbolicLink() ? readlinkSync(abs) : undefined; } catch { /* does not exist */ }
  if (link !== undefined) {
    // The outputs replace the folder whole (a rename), which a link cannot take: refused before any work.
    throw new UsageError(`output path '${out}' is a symbolic link (to '${link}'${existsSync(abs) ? '' : ', which does not exist'}); give the folder itself or another --out`);
  }
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new UsageError(`output path '${out}' exists and is not a folder; choose another --out`);
  // A folder the user made read-only is theirs to keep so: the run would replace it (its parent being writable) and
  // drop its permissions with it.
  const why = existsSync(abs) ? notWritable(abs) : undefined;
  if (why) throw new UsageError(`output folder '${out}' is not writable (${why}); ${why === 'its permissions' ? 'make it writable' : 'mount it writable'} or choose another --out`);
  // Nothing to resume is said before anything loads or trains (the built-in model's first training included).
  if (resume && !nonEmptyDir(abs) && !new Checkpointer(checkpointDirFor(abs)).exists()) {
    throw new UsageError(`nothing to resume: no checkpoint for output folder '${out}' (expected '${checkpointDirFor(abs)}'); run again without --resume`);
  }
  if (nonEmptyDir(abs) && !overwrite && !(resume && new Checkpointer(checkpointDirFor(abs)).exists())) {
    throw new UsageError(resume
      ? `nothing to resume: output folder '${out}' holds no checkpoint (the run finished, or never reached its first accepted step); run again without --resume, with --overwrite to replace it`
      // A run stopped after its outputs were written but before its --compact ones keeps its checkpoint: --resume finishes it.
      : `output folder '${out}' already exists; pass --overwrite or choose another --out${new Checkpointer(checkpointDirFor(abs)).exists() ? ' (an interrupted run of it left a checkpoint: --resume finishes that run)' : ''}`);
  }
  // A mount point is written in place (report/write.ts), so it is the folder itself that must be writable.
  if (existsSync(abs) && isMountPoint(abs)) probeWritable(abs, `cannot write output folder '${out}'`);
  else writableFolderFor(dirname(abs), `cannot write output folder '${out}'`);
}


/** Why this process may not write into `dir` (its permissions, or a read-only file system; root may write anywhere), or undefined. */
function notWritable(dir: string): string | undefined {
  try {
    accessSync(dir, fsConstants.W_OK);
    return undefined;
  } catch (err) {
    // (A read-only mount was blamed on the folder's permissions: a new user's tmpfs mounted ro.)
    return (err as NodeJS.ErrnoException).code === 'EROFS' ? 'a read-only file system' : 'its permissions';
  }
}

/**
 * `--overwrite` replaces a previous run's output folder (one holding its report.json or masks.json), or an
 * empty one; a folder with other contents is refused, so that a mistyped --out never deletes a user's files.
 */
export function checkOverwritable(out: string, overwrite: boolean, resume: boolean): void {
  const abs = resolve(out);
  if (!nonEmptyDir(abs)) return;
  // A resumed run replaces the folder too when it writes its outputs: only autoprune's own entries may be there (an
  // interrupted run may not have written a report yet). Until 2026-12-05 a resume deleted a user's files put there.
  if (resume && new Checkpointer(checkpointDirFor(abs)).exists()) {
    const foreign = foreignEntries(abs);
    if (foreign.length > 0) {
      throw new UsageError(`output folder '${out}' holds ${entriesNotOurs(foreign)}, which the resumed run's outputs would replace; move ${foreign.length === 1 ? 'it' : 'them'} out and rerun with --resume`);
    }
    return;
  }
  if (!overwrite) return;
  // Ours when its report.json or masks.json says so, and nothing else is there.
  if (!isAutopruneOutput(abs)) {
    throw new UsageError(`output folder '${out}' is not an autoprune output (no autoprune report.json or masks.json in it): --overwrite only replaces a previous run's output; choose another --out`);
  }
  const foreign = foreignEntries(abs);
  if (foreign.length > 0) {
    throw new UsageError(`output folder '${out}' holds ${entriesNotOurs(foreign)}, which --overwrite would delete; move ${foreign.length === 1 ? 'it' : 'them'} or choose another --out`);
  }
}

/** Everything an output folder holds (a run's files, `autoprune compact`'s, a frontier's): --overwrite replaces only these. */
const OUTPUT_ENTRIES = new Set(['model', 'masks.json', 'report.json', 'report.html', 'frontier.json', 'frontier', 'compact', 'model.sparse', 'model.int8.sparse']);

/** What one target's folder of a frontier holds: its model and masks, and `autoprune compact`'s files. */
const FRONTIER_ENTRIES = new Set(['model', 'masks.json', 'compact', 'model.sparse', 'model.int8.sparse']);

/** Whether `dir` holds an autoprune run's report.json or masks.json, by their `format` (a file of that name alone is anyone's). */
export function isAutopruneOutput(dir: string): boolean {
  return jsonFormatOf(join(dir, 'report.json')) === 'autoprune-report' || jsonFormatOf(join(dir, 'masks.json')) === 'autoprune-masks';
}

/** What a saved tfjs model folder of ours holds: model.json and its weight files. */
const isModelFile = (name: string) => name === 'model.json' || /^(weights|group\d+-shard\d+of\d+)\.bin$/.test(name);

/** "an entry autoprune does not write (x)" / "entries … (x, y, z, …)", for the messages that name them. */
function entriesNotOurs(foreign: readonly string[]): string {
  return `${foreign.length === 1 ? 'an entry' : 'entries'} autoprune does not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`;
}

/** Everything in an output folder that autoprune does not write (relative paths): what replacing the folder would delete. */
export function foreignEntries(abs: string): string[] {
  return [...readdirSync(abs).filter((e) => !OUTPUT_ENTRIES.has(e)), ...foreignInside(abs)];
}

/**
 * Entries inside an output folder's subfolders that autoprune does not write (relative paths): model/ and
 * compact/ hold a saved model (model.json, weight files), frontier/ one folder per target (model/, masks.json).
 * A symlink is never looked through (removing the folder unlinks it, its target stays).
 */
export function foreignInside(abs: string): string[] {
  const out: string[] = [];
  const modelDir = (rel: string) => {
    const p = join(abs, rel);
    if (!isRealDir(p)) return;
    for (const e of readdirSync(p)) if (!isModelFile(e) || isRealDir(join(p, e))) out.push(`${rel}/${e}`);
  };
  modelDir('model');
  modelDir('compact');
  const fr = join(abs, 'frontier');
  if (isRealDir(fr)) {
    for (const t of readdirSync(fr)) {
      const rel = `frontier/${t}`;
      if (!/^(0|1)(\.\d+)?$/.test(t) || !isRealDir(join(fr, t))) { out.push(rel); continue; }
      // A target's folder: its model/ and masks.json, and what `autoprune compact frontier/<t>` adds.
      for (const e of readdirSync(join(fr, t))) if (!FRONTIER_ENTRIES.has(e)) out.push(`${rel}/${e}`);
      modelDir(`${rel}/model`);
      modelDir(`${rel}/compact`);
    }
  }
  return out;
}

function isRealDir(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `--logdir`: a folder (or a path to create) outside the input model's folder (inputs are never written to)
 * and outside `out` (which is replaced whole when the run ends).
 */
export function checkLogDir(logdir: string, modelDir: string | undefined, out: string | undefined): void {
  if (typeof logdir !== 'string' || logdir.trim() === '') throw new UsageError(`logdir must be a folder path, got '${String(logdir)}'`);
  const link = danglingLink(resolve(logdir));
  if (link !== undefined) throw new UsageError(`--logdir '${logdir}' is a symbolic link to '${link}', which does not exist; give a folder, or a path to create`);
  const real = realPathOf(resolve(logdir));
  if (dirname(real) === real) throw new UsageError(`--logdir '${logdir}' is a filesystem root; give a folder of its own for the TensorBoard files`);
  const within = (dir: string) => { const d = realPathOf(resolve(dir)); return real === d || real.startsWith(d + sep); };
  if (modelDir != null && within(modelDir)) {
    throw new UsageError(`--logdir '${logdir}' is inside the input model's folder '${modelDir}', which is never written to; choose another --logdir`);
  }
  if (out != null && within(out)) throw new UsageError(`--logdir '${logdir}' is inside the output folder '${out}', which is replaced when the run ends; choose another --logdir`);
  if (existsSync(real) && !statSync(real).isDirectory()) throw new UsageError(`--logdir '${logdir}' exists and is not a folder`);
  writableFolderFor(real, `cannot write TensorBoard files to --logdir '${logdir}'`);
}

/**
 * Takes the lock of an output folder (lockFileFor: a file in the cache holding the pid), so a second run on the
 * same `--out` fails at once instead of after its whole run. A lock whose process is gone is taken over.
 * Returns the release function.
 */
/** Lock files held by runs of this process (a pid alone cannot tell two runs of one process apart). */
const heldLocks = new Set<string>();

export function lockOutDir(out: string): () => void {
  const file = lockFileFor(out);
  // A run of this same process (concurrent API calls, e.g. AutoML trials under Promise.all) holds it.
  if (heldLocks.has(file)) throw new UsageError(`output folder '${out}' is in use by another autoprune run in this process; wait for it or choose another out folder`);
  makeDirs(dirname(file));
  const release = () => {
    heldLocks.delete(file);
    rmSync(file, { force: true });
    try { rmdirSync(dirname(file)); } catch { /* the run's checkpoint is still there (interrupted, resumable) */ }
  };
  for (let tries = 0; ; tries++) {
    try {
      writeFileSync(file, JSON.stringify(lockOwner(process.pid)), { flag: 'wx' });
      heldLocks.add(file);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) {
        throw new UsageError(`cannot lock output folder '${out}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const holder = readLockOwner(file);
      const state = holder ? holderState(holder) : 'gone';
      if (state === 'alive') {
        throw new UsageError(`output folder '${out}' is in use by another autoprune run (pid ${holder!.pid}); wait for it or choose another --out`);
      }
      if (state === 'unknown') {
        throw new UsageError(`output folder '${out}' is locked by an autoprune run of pid ${holder!.pid} on ${holder!.host ?? 'another host'}${holder!.pidns ? ` (process namespace ${holder!.pidns})` : ''}, which this process cannot see ` +
          `(another machine or container sharing the cache): wait for it, or, if no run is active there, delete '${file}'`);
      }
      rmSync(file, { force: true });
    }
  }
  return release;
}

/** Who holds a lock: the pid, and what tells a live holder from a reused pid or one of another machine or container. */
interface LockOwner { pid: number; host?: string; pidns?: string; start?: string }

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), where /proc has it. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try { return readlinkSync('/proc/self/ns/pid'); } catch { return undefined; }
}

function lockOwner(pid: number): LockOwner {
  return { pid, host: hostname(), pidns: pidNamespace(), start: processStart(pid) };
}

/** A lock file's holder: JSON, or a bare pid (locks written before 2026-12-05). */
function readLockOwner(file: string): LockOwner | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    const o = (/^\d+$/.test(text) ? { pid: Number(text) } : JSON.parse(text)) as LockOwner;
    return Number.isInteger(o.pid) && o.pid > 0 ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a lock's holder still runs: 'gone' (its pid is free, or now another process's: a start time that differs),
 * 'alive', or 'unknown' (another host or process namespace: its pid means nothing here).
 */
function holderState(o: LockOwner): 'alive' | 'gone' | 'unknown' {
  if ((o.host != null && o.host !== hostname()) || (o.pidns != null && pidNamespace() != null && o.pidns !== pidNamespace())) return 'unknown';
  // Our own pid without the lock in heldLocks: left by a run of this process that crashed before releasing it.
  if (o.pid === process.pid) return 'gone';
  if (!alive(o.pid)) return 'gone';
  const start = o.start != null ? processStart(o.pid) : undefined;
  return start != null && start !== o.start ? 'gone' : 'alive';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The cache (the default model, run checkpoints) must be a writable folder before any work: a read-only or
 * mistyped AUTOPRUNE_CACHE_DIR would otherwise fail after the training, with a raw file-system error.
 */
export function checkCacheDir(modelDir?: string): void {
  const dir = cacheDir();
  const hint = 'set AUTOPRUNE_CACHE_DIR to a writable folder';
  const link = danglingLink(dir);
  if (link !== undefined) throw new UsageError(`the cache folder '${dir}' is a symbolic link to '${link}', which does not exist; ${hint}`);
  // The run writes its lock and checkpoints into the cache: never into the input model's folder.
  if (modelDir != null) {
    const real = realPathOf(dir);
    const model = realPathOf(modelDir);
    if (real === model || real.startsWith(model + sep)) throw new UsageError(`the cache folder '${dir}' is the input model's folder '${modelDir}' (or inside it), which is never written to; ${hint} elsewhere`);
  }
  try {
    makeDirs(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'EEXIST' || code === 'ENOTDIR'
      ? `the cache folder '${dir}' is a file, or a folder above it is; ${hint}`
      : `cannot create the cache folder '${dir}' (${code}); ${hint}`);
  }
  if (!statSync(dir).isDirectory()) throw new UsageError(`the cache folder '${dir}' is not a folder; ${hint}`);
  probeWritable(dir, `cannot write the cache folder (${hint})`);
}
