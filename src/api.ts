import type { Container } from 'inversify';
import { createContainer } from './container.js';
import type { AutopruneOptions, AutopruneResult, PruneService } from './prune-service.js';
import { resolveRunOptions } from './options.js';
import { TOKENS } from './types.js';
import type { AgentEvent } from './agent/events.js';
import { AutopruneError, InterruptedError, UsageError, withMessage } from './errors.js';
import { compactPruned as compactService, type CompactOptions, type CompactResult } from './compact-service.js';
import { refuseUnknownKeys } from './util/unknown-keys.js';
import { Checkpointer } from './agent/checkpoint.js';
import { checkpointDirFor } from './output-dir.js';

export type { AutopruneOptions, AutopruneResult };

/**
 * Prunes a model to `target` sparsity with the learned policy, fine-tuning and an accuracy guard.
 * Returns the pruned model and the typed report; with `out`, also writes model/, masks.json,
 * report.json and report.html there (atomically). Events (`onEvent`) are the CLI's `--json` lines.
 *
 * @example
 * const { model, report } = await autoprune({ target: 0.9, maxDrop: 0.5 });
 */
export async function autoprune(options: AutopruneOptions, container: Container = createContainer()): Promise<AutopruneResult> {
  // Warning events and the done event's advice name the options a caller sets, as errors and the returned report do.
  if (options == null || typeof options !== 'object') resolveRunOptions(options); // throws the one-line UsageError
  const user = options.onEvent;
  const opts: AutopruneOptions = typeof user === 'function'
    ? { ...options, onEvent: (e) => user(inApiEvent(e)) }
    : options;
  let result: AutopruneResult;
  try {
    result = await runPrune(opts, container);
  } catch (err) {
    throw inApiTerms(err instanceof InterruptedError && !err.message.includes('before the run started') ? resumable(err, options.out) : err);
  }
  // The returned report speaks to the caller as its errors and warnings do (report.json on disk, the same file the
  // CLI writes, keeps the flags).
  const { final, task } = result.report;
  if (final.advice) final.advice = inApiWords(final.advice);
  if (task) task.evidence = inApiWords(task.evidence);
  if (result.report.warnings) result.report.warnings = result.report.warnings.map(inApiWords);
  for (const step of result.report.steps ?? []) if (typeof step.reason === 'string') step.reason = inApiWords(step.reason);
  return result;
}

/** An event's words for the caller: a warning's message, the done event's advice and a step's or rollback's reason name options, not flags. */
function inApiEvent(e: AgentEvent): AgentEvent {
  if (e.type === 'warning') return { ...e, message: inApiWords(e.message) };
  if (e.type === 'done' && e.advice) return { ...e, advice: inApiWords(e.advice) };
  if ('reason' in e && typeof e.reason === 'string') return { ...e, reason: inApiWords(e.reason) } as AgentEvent;
  return e;
}

/** An interrupted run's error, saying whether and how it can be resumed (as the CLI's does). */
function resumable(err: InterruptedError, out: string | undefined): InterruptedError {
  const dir = out ? checkpointDirFor(out) : undefined;
  const message = dir && new Checkpointer(dir).exists()
    ? `${err.message}; the last accepted step is checkpointed in ${dir}: call autoprune() again with the same options and resume: true to continue (without it, the run starts over)`
    : dir ? `${err.message} before the first accepted step was checkpointed (a step accepted but interrupted on its way to the checkpoint is not kept); nothing to resume`
    : `${err.message}; without out nothing was checkpointed (with out, an interrupted run continues with resume: true)`;
  return new InterruptedError(message, { cause: err.cause });
}

/** The run behind `autoprune()` and the CLI, whose messages name the CLI's flags. */
export async function runPrune(options: AutopruneOptions, container: Container = createContainer()): Promise<AutopruneResult> {
  resolveRunOptions(options);
  return container.get<PruneService>(TOKENS.Pruner).run(options);
}

/** Each CLI flag the run's messages may name, as the API option a caller of autoprune() sets. */
const OPTION_OF_FLAG: Record<string, string> = {
  '--target': 'target', '--targets': 'frontier', '--model': 'model', '--data': 'data', '--label-order': 'labelOrder', '--label': 'label', '--class-weight': 'classWeight',
  '--ignore-columns': 'ignoreColumns', '--task': 'task', '--split-seed': 'splitSeed', '--split': 'split', '--val-data': 'valData',
  '--test-data': 'testData', '--no-standardize': 'standardize: false', '--standardize': 'standardize', '--input-scale': 'inputScale', '--max-drop': 'maxDrop',
  '--policy': 'policy', '--force': 'force: true', '--seed': 'seed', '--budget-steps': 'budgetSteps', '--budget': 'budgetEpochs',
  '--batch-size': 'batchSize', '--granularity': 'granularity', '--objective': 'objective', '--serving-batch': 'servingBatch', '--exclude': 'exclude',
  '--compact': 'compact: true', '--int8': 'int8: true', '--no-rewrite': 'rewrite: false', '--logdir': 'logdir', '--out': 'out', '--overwrite': 'overwrite: true', '--resume': 'resume: true',
};
const FLAG = new RegExp(`(${Object.keys(OPTION_OF_FLAG).sort((a, b) => b.length - a.length).join('|')})(?![\\w-])`, 'g');

/** A message with the CLI flags it names written as autoprune()'s options. */
const inApiWords = (text: string): string => text.replace(FLAG, (f) => OPTION_OF_FLAG[f]);

/** An AutopruneError with the CLI flags in its message named as autoprune()'s options (same class, exit code and cause). */
function inApiTerms(err: unknown): unknown {
  if (!(err instanceof AutopruneError)) return err;
  const message = inApiWords(err.message);
  return message === err.message ? err : withMessage(err, message);
}

/** Every option compactPruned() takes (checked against CompactOptions by the compiler): anything else is a typo. */
const COMPACT_KEYS: Record<keyof CompactOptions, true> = { out: true, int8: true, seed: true, rewrite: true, servingBatch: true, probe: true, data: true, timeBudgetMs: true };

/**
 * Compacts a pruned model (an `autoprune` output folder, a model folder or a model.json) into `out`: the compact model,
 * model.sparse and, with `int8`, model.int8.sparse (docs/compaction.md). The library's form of `autoprune compact`: an
 * unknown option is refused, and errors name this function's options, not the CLI's flags.
 */
export async function compactPruned(path: string, options: CompactOptions = {}): Promise<CompactResult> {
  try {
    if (options == null || typeof options !== 'object') throw new UsageError(`compactPruned() options must be an object, got ${String(options)}`);
    refuseUnknownKeys(options, Object.keys(COMPACT_KEYS), 'compactPruned()');
    return await compactService(path, options);
  } catch (err) {
    throw inApiTerms(err);
  }
}
