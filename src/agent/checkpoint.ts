import { makeDirs } from '../util/make-dirs.js';
import type * as TF from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tf } from '../backend/tf.js';
import { AutopruneError, UsageError } from '../errors.js';
import { applyMaskJson, masksToJson, type MaskFile } from '../pruning/mask-io.js';
import type { LatencyProfile, PrunableModel, Snapshot } from '../pruning/prunable-model.js';
import type { Milestone, StepRecord } from './loop.js';

/** What the agent needs to continue a run. */
export interface AgentState {
  step: number;
  sparsity: number;
  rate: number;
  /** Optimizer steps of fine-tuning spent so far. */
  stepsUsed: number;
  denseValAccuracy: number;
  denseTestAccuracy?: number;
  steps: StepRecord[];
  /** Optimizer steps of the frontier's branches so far (on top of the budget). */
  frontierSteps?: number;
  /**
   * The last accepted step's lower targets are still to be reached on their branches (it crossed them, and the run was
   * checkpointed before its branches, which an interruption may cut short): the sparsity the step started from, and its
   * validation metric and fine-tune steps. Its state before the step is in branch-from.bin; a resume runs the branches first.
   */
  branchFrom?: { sparsity: number; valAccuracy: number; steps: number };
  /** Times the default budget was extended so far (budget.ts extendBudget); a resume extends it as often. */
  budgetExtensions?: number;
  /** The step after which the default budget was last extended: another extension needs a step accepted since. */
  extendedAtStep?: number;
  /** Scoring passes so far, and how many pruned by the policy / by magnitude (report.json totals; a resume continues them). */
  scoringPasses?: number;
  criteria?: { policy: number; magnitude: number };
  /**
   * Seconds per phase and wall seconds of the agent up to this checkpoint, over every session of the run: a
   * resumed run's report counts the earlier sessions' work up to their last checkpoint (work redone after it
   * is counted once, where it was redone).
   */
  phases?: Record<string, number>;
  seconds?: number;
  /** Objective 'latency': the cost table measured at the run's start, counted with after a resume too. */
  latency?: LatencyProfile;
  /**
   * The guard's reference as the run's start measured it (the fine-tuned dense control or the dense model, whichever
   * scored lower, with its per-row validation scores): a resume judges with it instead of fine-tuning the control again.
   */
  reference?: {
    kind: 'control' | 'dense'; accuracy: number; correct: number[]; controlAccuracy?: number; controlSteps?: number;
    /** The classes the control no longer recalls (classesLost in loop.ts), said again by a resumed run. */
    lostClasses?: { name: string; rows: number; dense: number; now: number }[];
  };
}

/** A frontier target's recorded state without its weights (those are in `milestone-<i>.bin`). */
type MilestoneMeta = Omit<Milestone, 'snapshot'>;

interface StateFile {
  format: 'autoprune-checkpoint';
  version: 2;
  /** Weight names and shapes, to refuse a checkpoint of another model. */
  weights: { name: string; shape: number[] }[];
  /** What the run was (target, guard, policy, hashes of the dense model and the data): a resume must match it. */
  run?: RunIdentity;
  /** sha256 of each file written beside state.json (weights.bin, masks.json, milestone-<i>.bin, branch-from.bin): a damaged one is refused. */
  sha256?: Record<string, string>;
  /**
   * sha256 of the JSON of `run`, `state` and `milestones` as written (state.json's own contents): an edited or damaged
   * loop state — a counter, a sparsity, the guard's saved reference — is refused, not resumed from (absent before 2026-12-07).
   */
  stateSha256?: string;
  state: AgentState;
  /** Frontier targets reached so far; each one's weights (float32) then masks (1 byte each) in milestone-<i>.bin. */
  milestones?: MilestoneMeta[];
}

/** The settings and input hashes a checkpoint belongs to; a resume with other values is refused. */
export type RunIdentity = Record<string, string | number | boolean>;

/**
 * The last accepted state of a run: all weights (weights.bin, float32 in model.weights order), masks and
 * loop state. Written to a temp folder, the previous one moved aside, the temp one renamed into place:
 * a kill -9 at any moment leaves the old or the new checkpoint, never a mix. Killed between the two
 * renames, only the moved-aside one exists; `exists()` / `restore()` move it back first.
 */
/** The CLI flag of each setting a checkpoint is bound to (RunIdentity), for the mismatch message. */
const IDENTITY_FLAGS: Record<string, string> = {
  target: '--target', maxDrop: '--max-drop', objective: '--objective', granularity: '--granularity', exclude: '--exclude', frontier: '--targets',
  policy: '--policy', seed: '--seed', splitSeed: '--split-seed', budgetSteps: '--budget-steps', batchSize: '--batch-size', force: '--force',
  servingBatch: '--serving-batch', distill: 'distillation', classWeight: '--class-weight',
};

export class Checkpointer {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  exists(): boolean {
    this.recover();
    return existsSync(join(this.dir, 'state.json'));
  }

  /**
   * The loop state saved with this checkpoint, read before `restore` — an objective-'latency' run's cost table (a resume
   * counts with it from its first check, not with a new timing) and the guard's reference (not fine-tuned again);
   * undefined where there is none or the file is damaged (`restore` then says what is wrong).
   */
  savedState(): AgentState | undefined {
    try {
      this.recover();
      const file = JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as StateFile;
      return invalidStateFile(file) ? undefined : file.state;
    } catch {
      return undefined;
    }
  }

  /** After a kill between save's two renames: the moved-aside checkpoint goes back; stale temp folders go. */
  private recover(): void {
    const parent = dirname(this.dir);
    const name = basename(this.dir);
    let entries: string[];
    try { entries = readdirSync(parent); } catch { return; }
    const aside = entries.filter((e) => e.startsWith(`${name}.old-`) && existsSync(join(parent, e, 'state.json')));
    if (aside.length && !existsSync(join(this.dir, 'state.json'))) {
      rmSync(this.dir, { recursive: true, force: true });
      renameSync(join(parent, aside[0]), this.dir);
    }
    for (const e of entries) {
      const pid = /^(?:\.(.+)\.tmp|(.+)\.old)-(\d+)$/.exec(e);
      if (!pid || (pid[1] ?? pid[2]) !== name || Number(pid[3]) === process.pid) continue;
      if (existsSync(join(parent, e))) rmSync(join(parent, e), { recursive: true, force: true });
    }
  }

  /** `branchFrom`: the state before the last step, where `state.branchFrom` says its branches are still to come. */
  async save(pm: PrunableModel, state: AgentState, run?: RunIdentity, milestones: readonly Milestone[] = [], branchFrom?: Snapshot): Promise<void> {
    const tmp = join(dirname(this.dir), `.${basename(this.dir)}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      await this.write(tmp, pm, state, run, milestones, branchFrom);
    } catch (err) {
      // Disk full or the folder gone: no partial temp folder is left; the previous checkpoint stays.
      rmSync(tmp, { recursive: true, force: true });
      const e = err as NodeJS.ErrnoException;
      // A machine's failure (the cache's disk full) mid-run, not bad input: exit 1, as any error the input did not cause.
      throw new AutopruneError(`cannot write checkpoint '${this.dir}' (${e.code ?? e.message.split('\n')[0]}); the previous checkpoint is kept: free space and rerun with --resume`);
    }
    const old = `${this.dir}.old-${process.pid}`;
    if (existsSync(this.dir)) renameSync(this.dir, old);
    renameSync(tmp, this.dir);
    rmSync(old, { recursive: true, force: true });
  }

  private async write(tmp: string, pm: PrunableModel, state: AgentState, run: RunIdentity | undefined, milestones: readonly Milestone[], branchFrom: Snapshot | undefined): Promise<void> {
    makeDirs(tmp);
    const weights = pm.model.weights;
    const arrays = await Promise.all(weights.map((w) => w.read().data() as Promise<Float32Array>));
    const total = arrays.reduce((a, x) => a + x.length, 0);
    const buf = new Float32Array(total);
    let off = 0;
    for (const a of arrays) { buf.set(a, off); off += a.length; }
    const sha256: Record<string, string> = {};
    const put = (name: string, data: Buffer | string) => {
      writeFileSync(join(tmp, name), data);
      sha256[name] = createHash('sha256').update(data).digest('hex');
    };
    put('weights.bin', Buffer.from(buf.buffer));
    put('masks.json', JSON.stringify(masksToJson(pm)));
    for (const [i, m] of milestones.entries()) put(`milestone-${i}.bin`, await snapshotBytes(m.snapshot));
    if (state.branchFrom) put('branch-from.bin', await snapshotBytes(branchFrom!));
    const metas = milestones.length ? { milestones: milestones.map(({ snapshot: _, ...meta }) => meta) } : {};
    const file: StateFile = {
      format: 'autoprune-checkpoint', version: 2,
      weights: weights.map((w) => ({ name: w.name, shape: w.shape as number[] })), ...(run ? { run } : {}), sha256,
      stateSha256: stateDigest(run, state, metas.milestones), state, ...metas,
    };
    writeFileSync(join(tmp, 'state.json'), JSON.stringify(file, null, 1));
  }

  /**
   * Loads weights and masks into `pm` and returns the saved state. Whatever is wrong with the checkpoint's
   * files — edited, truncated, of another version — is one UsageError naming the file, never a crash.
   */
  async restore(pm: PrunableModel, run?: RunIdentity): Promise<AgentState> {
    try {
      return await this.restoreChecked(pm, run);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot resume: checkpoint '${this.dir}' is damaged (${String((err as Error)?.message ?? err).split('\n')[0].slice(0, 160)}); rerun without --resume`);
    }
  }

  /**
   * Whether the checkpoint can be resumed for `pm` and `run` (its state file, the model's weight shapes, the run's
   * settings and input hashes), without loading anything: a UsageError naming what is wrong. Called before a resume
   * does any work or says anything (a checkpoint of another run was refused after the guard's control had run and
   * the run's warnings had been printed).
   */
  check(pm: PrunableModel, run?: RunIdentity): void {
    try {
      this.checkedFile(pm, run);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot resume: checkpoint '${this.dir}' is damaged (${String((err as Error)?.message ?? err).split('\n')[0].slice(0, 160)}); rerun without --resume`);
    }
  }

  private checkedFile(pm: PrunableModel, run?: RunIdentity): { file: StateFile; all: Float32Array } {
    this.recover();
    let file: StateFile;
    try {
      file = JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8')) as StateFile;
    } catch (err) {
      throw new UsageError(`cannot resume: checkpoint '${this.dir}' is unreadable (${(err as Error).message.split('\n')[0]}); rerun without --resume`);
    }
    if (file?.format !== 'autoprune-checkpoint' || file.version !== 2) {
      throw new UsageError(`cannot resume: '${this.dir}' is not an autoprune checkpoint`);
    }
    const bad = invalidStateFile(file);
    if (bad) throw new UsageError(`cannot resume: checkpoint '${join(this.dir, 'state.json')}' is damaged (${bad}); rerun without --resume`);
    // Its own contents as written (a flipped byte in a counter or the saved reference resumed another run in silence).
    if (file.stateSha256 != null && file.stateSha256 !== stateDigest(file.run, file.state, file.milestones)) {
      throw new UsageError(`cannot resume: checkpoint '${join(this.dir, 'state.json')}' is damaged (its loop state's checksum differs from the one saved with it); rerun without --resume`);
    }
    const weights = pm.model.weights;
    const same = file.weights.length === weights.length &&
      file.weights.every((w, i) => w.shape.join('x') === (weights[i].shape as number[]).join('x'));
    if (!same) throw new UsageError(`cannot resume: checkpoint '${this.dir}' was made for another model`);
    if (run) {
      // (A checkpoint written before the policy file's contents were recorded, 2026-12-06, is judged without them.)
      // Both sides' settings: one the checkpoint's run had and this one has not (class weights, distillation) differs too.
      const differs = [...new Set([...Object.keys(run), ...Object.keys(file.run ?? {})])].filter((k) => file.run?.[k] !== run[k] && !(k === 'policyContents' && file.run?.[k] === undefined))
        // Another policy named: its file's contents differ too, and "the policy file was changed" would misread it.
        .filter((k, _, all) => !(k === 'policyContents' && all.includes('policy')));
      if (differs.length > 0) {
        const what = differs.map((k) => (k === 'policyContents'
          ? `the policy file was changed since (sha256 ${String(file.run?.[k]).slice(0, 12)}… → ${String(run[k]).slice(0, 12)}…): its steps were scored by another policy`
          : k === 'data'
            ? `the data as the run reads it differ (${String(file.run?.[k]).slice(0, 12)}… → ${String(run[k]).slice(0, 12)}…: the file's contents, or the columns, split, --standardize or --input-scale it is read with)`
            : k === 'model'
              ? `it was made for another model: the model's weights differ (${String(file.run?.[k]).slice(0, 12)}… → ${String(run[k]).slice(0, 12)}…)`
              // Named by the CLI's flag (the library's messages say its option: src/api.ts).
              : `${IDENTITY_FLAGS[k] ?? k} ${JSON.stringify(file.run?.[k] ?? null)} → ${JSON.stringify(run[k] ?? null)}`)).join(', ');
        throw new UsageError(`cannot resume: checkpoint '${this.dir}' belongs to another run (${what}); rerun with the original settings or without --resume`);
      }
    }
    const bytes = readFileSync(join(this.dir, 'weights.bin'));
    const need = weights.reduce((a, w) => a + (w.shape as number[]).reduce((x, y) => x * y, 1), 0) * 4;
    if (bytes.byteLength !== need) {
      throw new UsageError(`cannot resume: checkpoint '${join(this.dir, 'weights.bin')}' is truncated or corrupt (${bytes.byteLength} of ${need} bytes); rerun without --resume`);
    }
    // Every file as written (a flipped byte in weights.bin would resume a broken model and prune it to nothing).
    // Only the checkpoint's own files, each by its plain name: an edited entry never makes a resume read elsewhere.
    for (const [name, sum] of Object.entries(file.sha256 ?? {})) {
      const path = join(this.dir, name);
      const actual = existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'missing';
      if (actual !== sum) throw new UsageError(`cannot resume: checkpoint file '${path}' is damaged (its checksum differs from the one saved with it); rerun without --resume`);
    }
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const nonFinite = all.findIndex((v) => !Number.isFinite(v));
    if (nonFinite >= 0) throw new UsageError(`cannot resume: checkpoint '${join(this.dir, 'weights.bin')}' is damaged (a non-finite weight at value ${nonFinite}); rerun without --resume`);
    return { file, all };
  }

  private async restoreChecked(pm: PrunableModel, run?: RunIdentity): Promise<AgentState> {
    const { file, all } = this.checkedFile(pm, run);
    const weights = pm.model.weights;
    let off = 0;
    tf.tidy(() => {
      for (const w of weights) {
        const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
        (w.read() as TF.Variable).assign(tf.tensor(all.slice(off, off + n), w.shape as number[]));
        off += n;
      }
    });
    const masks = JSON.parse(readFileSync(join(this.dir, 'masks.json'), 'utf8')) as MaskFile;
    applyMaskJson(pm, masks, join(this.dir, 'masks.json'));
    this.saved = file.milestones ?? [];
    return file.state;
  }

  /** Meta of the milestones in the checkpoint last restored. */
  private saved: MilestoneMeta[] = [];

  /** The frontier targets the restored checkpoint had reached, with their weights and masks (the caller owns them). */
  restoredMilestones(pm: PrunableModel): Milestone[] {
    return this.saved.map((meta, i) => ({ ...meta, snapshot: this.readSnapshot(pm, `milestone-${i}.bin`) }));
  }

  /** The state before the restored checkpoint's last step, whose branches are still to come (AgentState.branchFrom); the caller owns it. */
  restoredBranchFrom(pm: PrunableModel): Snapshot {
    return this.readSnapshot(pm, 'branch-from.bin');
  }

  /** A snapshot written by snapshotBytes: every weight (float32), then every mask (1 byte each). */
  private readSnapshot(pm: PrunableModel, name: string): Snapshot {
    const wSizes = pm.model.weights.map((w) => (w.shape as number[]).reduce((a, b) => a * b, 1));
    const mShapes = pm.layers.map((l) => l.kernel.shape as number[]);
    const mSizes = mShapes.map((sh) => sh.reduce((a, b) => a * b, 1));
    const need = 4 * wSizes.reduce((a, b) => a + b, 0) + mSizes.reduce((a, b) => a + b, 0);
    const file = join(this.dir, name);
    const bytes = readFileSync(file);
    if (bytes.byteLength !== need) throw new UsageError(`cannot resume: checkpoint '${file}' is truncated or corrupt (${bytes.byteLength} of ${need} bytes); rerun without --resume`);
    // A copy: the float32 view needs an aligned offset.
    const all = new Uint8Array(bytes);
    let off = 0;
    return tf.tidy(() => ({
      weights: pm.model.weights.map((w, j) => {
        const t = tf.keep(tf.tensor(new Float32Array(all.buffer, off, wSizes[j]).slice(), w.shape as number[]));
        off += 4 * wSizes[j];
        return t;
      }),
      masks: mShapes.map((shape, j) => {
        const t = tf.keep(tf.tensor(all.slice(off, off + mSizes[j]), shape, 'bool'));
        off += mSizes[j];
        return t;
      }),
    }));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const CHECKPOINT_FILE = /^(weights\.bin|masks\.json|milestone-\d+\.bin|branch-from\.bin)$/;

/** sha256 of a checkpoint's run identity, loop state and milestones, as JSON (StateFile.stateSha256). */
function stateDigest(run: RunIdentity | undefined, state: AgentState, milestones: readonly MilestoneMeta[] | undefined): string {
  return createHash('sha256').update(JSON.stringify({ run: run ?? null, state, milestones: milestones ?? [] })).digest('hex');
}

/** What is wrong with a parsed state.json (its shape and the loop state's values), or undefined. */
export function invalidStateFile(file: StateFile): string | undefined {
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(file.weights) || !file.weights.every((w) => w != null && Array.isArray(w.shape) && w.shape.every(isCount))) return 'weights: not a list of shapes';
  const sums = file.sha256;
  if (sums == null || typeof sums !== 'object') return 'no checksums';
  for (const name of Object.keys(sums)) if (!CHECKPOINT_FILE.test(name)) return `checksum of '${name.slice(0, 60)}', not a checkpoint file`;
  const milestones = file.milestones ?? [];
  if (!Array.isArray(milestones)) return 'milestones: not a list';
  for (const need of ['weights.bin', 'masks.json', ...milestones.map((_, i) => `milestone-${i}.bin`), ...(file.state?.branchFrom ? ['branch-from.bin'] : [])]) if (typeof sums[need] !== 'string') return `no checksum of '${need}'`;
  const st = file.state;
  if (st == null || typeof st !== 'object') return 'no loop state';
  if (!isCount(st.step)) return 'state.step';
  if (!(typeof st.sparsity === 'number' && st.sparsity >= 0 && st.sparsity < 1)) return 'state.sparsity';
  if (!(typeof st.rate === 'number' && st.rate > 0 && st.rate <= 1)) return 'state.rate';
  if (!isCount(st.stepsUsed)) return 'state.stepsUsed';
  if (!Number.isFinite(st.denseValAccuracy)) return 'state.denseValAccuracy'; // R² may be negative
  if (!Array.isArray(st.steps) || !st.steps.every((r) => r != null && typeof r === 'object')) return 'state.steps';
  if (st.frontierSteps != null && !isCount(st.frontierSteps)) return 'state.frontierSteps';
  const bf = st.branchFrom;
  if (bf != null && !(typeof bf === 'object' && typeof bf.sparsity === 'number' && bf.sparsity >= 0 && bf.sparsity <= st.sparsity && Number.isFinite(bf.valAccuracy) && isCount(bf.steps) && bf.steps <= st.stepsUsed)) return 'state.branchFrom';
  if (st.scoringPasses != null && !isCount(st.scoringPasses)) return 'state.scoringPasses';
  if (st.budgetExtensions != null && !isCount(st.budgetExtensions)) return 'state.budgetExtensions';
  if (st.extendedAtStep != null && !isCount(st.extendedAtStep)) return 'state.extendedAtStep';
  const lp = st.latency;
  const nonNegative = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (lp != null && !(typeof lp === 'object' && isCount(lp.batch) && nonNegative(lp.denseMs) && Array.isArray(lp.kernels) && lp.kernels.every((k) => typeof k === 'string') &&
    Array.isArray(lp.msPerMac) && lp.msPerMac.length === lp.kernels.length && lp.msPerMac.every(nonNegative) && Array.isArray(lp.probes))) return 'state.latency';
  const ref = st.reference;
  if (ref != null && !(typeof ref === 'object' && (ref.kind === 'control' || ref.kind === 'dense') && Number.isFinite(ref.accuracy) && ref.accuracy <= 1 &&
    Array.isArray(ref.correct) && ref.correct.every((v) => Number.isFinite(v)) && (ref.controlAccuracy == null || Number.isFinite(ref.controlAccuracy)) && (ref.controlSteps == null || isCount(ref.controlSteps)) &&
    (ref.lostClasses == null || (Array.isArray(ref.lostClasses) && ref.lostClasses.every((c) => c != null && typeof c.name === 'string' && isCount(c.rows) && isCount(c.dense) && isCount(c.now)))))) return 'state.reference';
  return undefined;
}

/** A snapshot as bytes: every weight (float32, model.weights order), then every mask (one byte per weight). */
async function snapshotBytes(s: Snapshot): Promise<Buffer> {
  const w = await Promise.all(s.weights.map((t) => t.data() as Promise<Float32Array>));
  const m = await Promise.all(s.masks.map((t) => t.data() as Promise<Uint8Array>));
  return Buffer.concat([...w.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)), ...m.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
}
