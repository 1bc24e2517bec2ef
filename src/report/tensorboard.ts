/**
 * TensorBoard summaries of a run (`--logdir`, API `logdir`), the convention TF-MOT's `PruningSummaries`
 * set: scalars written with tfjs-node's own summary writer (`tf.node.summaryFileWriter`, an
 * `events.out.tfevents.*` file TensorBoard reads).
 *
 * Tags, x = optimizer steps used so far in the run (the budget's unit, rolled-back steps included):
 * `sparsity/accepted` and `<metric>/val` at the start (0) and every accepted step; `sparsity/rejected` and
 * `<metric>/val_rejected` at every rollback; `final/*` once at the end. Per fine-tune epoch, x = fine-tune
 * epochs so far: `fine_tune/loss` (and `<metric>/val_epoch` where the epoch was validated). `<metric>` is the task's metric as the start event names it
 * ('accuracy', 'exact-match_accuracy', 'R²' → 'r2').
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import type { AgentEvent } from '../agent/events.js';

/** The summary-writer kernels of tfjs-node's backend (the ones `tf.node.summaryFileWriter` drives). */
interface SummaryBackend {
  summaryWriter(logdir: string): TF.Tensor;
  createSummaryFileWriter(handle: TF.Tensor, logdir: string, maxQueue?: number, flushMillis?: number, filenameSuffix?: string): void;
  writeScalarSummary(handle: TF.Tensor, step: number, name: string, value: number): void;
  flushSummaryWriter(handle: TF.Tensor): void;
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: TF.Tensor[], outputs: number): TF.Tensor[];
}

export interface TensorBoardSink {
  /** Feed every event of the run (an `onEvent`). */
  onEvent(e: AgentEvent): void;
  /** Flushes the file (also done after every accepted step and at the end). */
  flush(): void;
  /** Flushes and closes the file and frees the writer (its tensors, its file handle); the sink writes nothing after. */
  close(): void;
}

/** The metric as a tag segment: lower case, no spaces or symbols TensorBoard groups badly. */
function metricTag(metric: string | undefined): string {
  return (metric ?? 'accuracy').replace('R²', 'r2').replace(/[^A-Za-z0-9_-]+/g, '_').toLowerCase();
}

/**
 * A TensorBoard writer for `logdir` (created if missing). Needs the native backend (tfjs-node), which owns the
 * summary writer; UsageError otherwise.
 */
export function tensorBoardSink(logdir: string): TensorBoardSink {
  const backend = tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as Partial<SummaryBackend>) : undefined;
  if (typeof backend?.createSummaryFileWriter !== 'function' || typeof backend.summaryWriter !== 'function') {
    throw new UsageError(`--logdir needs the native TensorFlow backend (tfjs-node writes TensorBoard files); this run is on '${tf.getBackend()}'`);
  }
  if (typeof logdir !== 'string' || logdir.trim() === '') throw new UsageError(`logdir must be a folder path, got '${String(logdir)}'`);
  const b = backend as SummaryBackend;
  // The writer of `tf.node.summaryFileWriter`, made here rather than taken from it: tfjs-node keeps its writers open in a
  // module cache for the process's life and leaks the four scalars it makes one with, so a sweep of runs, each with its
  // own logdir, would hold a tensor set and an open file per run. This one is closed when the run ends.
  // Made at the first scalar (the run's start event, after every check of its inputs): a run refused for bad input
  // leaves no logdir behind (a new user's trial found an empty one).
  let handle: TF.Tensor | undefined;
  const writer = (): TF.Tensor => (handle ??= tf.tidy(() => {
    const h = b.summaryWriter(logdir);
    b.createSummaryFileWriter(h, logdir);
    return h;
  }));
  let open = true;
  const w = {
    scalar: (name: string, value: number, step: number) => { if (open) b.writeScalarSummary(writer(), Math.round(step), name, value); },
    flush: () => { if (open && handle) b.flushSummaryWriter(handle); },
  };
  let metric = 'accuracy';
  let at = 0; // optimizer steps used so far
  let epochs = 0; // fine-tune epochs so far
  return {
    onEvent(e: AgentEvent): void {
      switch (e.type) {
        case 'start':
          metric = metricTag(e.metric);
          w.scalar('sparsity/accepted', e.sparsity, 0);
          w.scalar(`${metric}/val`, e.denseValAccuracy, 0);
          w.flush();
          break;
        case 'epoch':
          if (e.phase === 'dense' || e.phase === 'control') break;
          epochs += 1;
          w.scalar('fine_tune/loss', e.loss, epochs);
          if (e.valAccuracy != null) w.scalar(`${metric}/val_epoch`, e.valAccuracy, epochs);
          break;
        case 'step':
          at = e.totalSteps ?? at;
          w.scalar('sparsity/accepted', e.toSparsity, at);
          w.scalar(`${metric}/val`, e.valAccuracy, at);
          w.flush();
          break;
        case 'rollback':
          at = e.totalSteps ?? at;
          w.scalar('sparsity/rejected', e.toSparsity, at);
          w.scalar(`${metric}/val_rejected`, e.valAccuracy, at);
          break;
        case 'polish':
          // The polish's steps come after the last step's: the final figures sit at the run's last optimizer step (they
          // were plotted at the last accepted step's, 100 of a run's 900).
          at += e.steps;
          break;
        case 'done':
          w.scalar('final/sparsity', e.sparsity, at);
          if (e.sparsityOfAllParams != null) w.scalar('final/sparsity_of_all_params', e.sparsityOfAllParams, at);
          w.scalar(`final/${metric}_val`, e.valAccuracy, at);
          w.scalar(`final/${metric}_test`, e.testAccuracy, at);
          w.scalar(`final/${metric}_test_dense`, e.denseTestAccuracy, at);
          w.flush();
          break;
        default:
          break;
      }
    },
    flush: () => w.flush(),
    close(): void {
      if (!open) return;
      w.flush();
      open = false;
      if (!handle) return;
      for (const t of b.executeMultipleOutputs('CloseSummaryWriter', [], [handle], 0)) t.dispose();
      handle.dispose();
    },
  };
}
