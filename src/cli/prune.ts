import { markStopping, onStopSignals } from './early-signals.js';
import { MAX_SEED } from '../options.js';
import { Checkpointer } from '../agent/checkpoint.js';
import { z } from 'zod';
import { checkpointDirFor } from '../output-dir.js';
import type { AgentEvent } from '../agent/events.js';
import { selectBackendAsync, type BackendName } from '../backend/tf.js';
import { InterruptedError, UsageError } from '../errors.js';
import { createConsoleReporter } from '../report/console.js';
import { nameList } from '../data/csv.js';
import { parseFlags } from './flags.js';
import { stdoutClosed } from './stdout.js';

// A fraction. A percentage is the likely slip (90 for 0.9) and is said with the fraction it means; one written as such
// ('80%', '0.8%') is always refused so (0.8% was once read as 0.8).
const fraction = z.unknown().transform((raw, ctx) => {
  const pct = typeof raw === 'string' && /%\s*$/.test(raw);
  const v = Number(pct ? (raw as string).replace(/%\s*$/, '').trim() : raw);
  if (Number.isNaN(v)) {
    ctx.addIssue({ code: 'custom', message: 'must be a number' });
    return z.NEVER;
  }
  if (!pct && Number.isFinite(v) && v > 0 && v < 1) return v;
  const percent = (pct ? v > 0 && v < 100 : v >= 2 && v < 100) ? `; ${v} % would be ${+(v / 100).toFixed(6)}` : '';
  ctx.addIssue({ code: 'custom', message: `must be a number strictly between 0 and 1 (e.g. 0.8)${pct ? ', not a percentage' : ''}${percent}` });
  return z.NEVER;
});

const PruneFlags = z.object({
  target: fraction.optional(),
  targets: z.string().transform((v, ctx) => {
    const parts = v.split(',').map((t) => Number(t.trim()));
    if (parts.length === 0 || parts.some((t) => !Number.isFinite(t) || t <= 0 || t >= 1)) {
      const pct = v.includes('%') ? `, not percentages (${v.split(',').map((t) => t.trim()).join(',')} would be ${v.split(',').map((t) => +(Number(t.replace('%', '').trim()) / 100).toFixed(6)).join(',')})` : '';
      ctx.addIssue({ code: 'custom', message: `must be comma-separated fractions strictly between 0 and 1 (e.g. 0.5,0.8,0.9)${pct}` });
      return z.NEVER;
    }
    const distinct = [...new Set(parts)].sort((a, b) => a - b);
    if (distinct.length < 2) {
      ctx.addIssue({ code: 'custom', message: `needs at least two different targets for a frontier (got ${v}); for one target use --target ${distinct[0]}` });
      return z.NEVER;
    }
    return distinct;
  }).optional(),
  model: z.string().min(1).optional(),
  data: z.string().min(1),
  label: z.string().min(1).transform((v) => { const names = nameList(v, '--label'); return names.length > 1 ? names : (names[0] ?? v.trim()); }).optional(),
  ignoreColumns: z.string().min(1).transform((v) => nameList(v, '--ignore-columns')).optional(),
  task: z.enum(['classification', 'multilabel', 'regression', 'autoencoder']).optional(),
  labelOrder: z.string().min(1).transform((v) => nameList(v, '--label-order')).optional(),
  // 'balanced', or class=weight pairs (a class name or 0-based output index; the run checks the names against the data).
  classWeight: z.string().min(1).transform((v, ctx) => {
    if (v.trim() === 'balanced') return 'balanced' as const;
    const out: Record<string, number> = {};
    for (const pair of nameList(v, '--class-weight')) {
      const at = pair.lastIndexOf('=');
      const w = at > 0 ? Number(pair.slice(at + 1).trim()) : NaN;
      if (!(Number.isFinite(w) && w > 0)) {
        const meant = at < 0 && /^bal/i.test(v.trim()) ? " (did you mean 'balanced'?)" : '';
        ctx.addIssue({ code: 'custom', message: `must be 'balanced' or class=weight pairs with weights > 0, comma-separated (e.g. damaged=5 or 1=5,0=1), got '${pair}'${meant}` });
        return z.NEVER;
      }
      const name = pair.slice(0, at).trim();
      if (name in out) {
        ctx.addIssue({ code: 'custom', message: `names class '${name}' twice (${name}=${out[name]} and ${name}=${w}); give each class once` });
        return z.NEVER;
      }
      out[name] = w;
    }
    return out;
  }).optional(),
  split: z.string().transform((v, ctx) => {
    const parts = v.split(',').map((t) => Number(t.trim()));
    if (parts.length !== 3 || parts.some((f) => !Number.isFinite(f) || f < 0) || parts[0] <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be three non-negative fractions train,val,test with train > 0 (e.g. 0.8,0.1,0.1)' });
      return z.NEVER;
    }
    return parts as [number, number, number];
  }).optional(),
  valData: z.string().min(1).optional(),
  testData: z.string().min(1).optional(),
  standardize: z.boolean().optional(),
  // A number or a fraction: 1/255, 0.00392, 255.
  inputScale: z.string().transform((v, ctx) => {
    const m = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*(?:\/\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*)?$/i.exec(v);
    const k = m ? Number(m[1]) / (m[2] != null ? Number(m[2]) : 1) : NaN;
    if (!(Number.isFinite(k) && k > 0)) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive number or fraction, e.g. 1/255 (pixels 0–255 for a model trained on [0, 1]) or 255' });
      return z.NEVER;
    }
    return k;
  }).optional(),
  maxDrop: z.coerce.number({ message: 'must be a number' })
    .refine((v) => Number.isFinite(v) && v >= 0 && v <= 100, 'must be a number of percentage points in [0, 100]'),
  policy: z.string().min(1),
  out: z.string().min(1),
  overwrite: z.boolean().optional(),
  force: z.boolean().optional(),
  resume: z.boolean().optional(),
  budget: z.coerce.number().int('must be a whole number of epochs').min(1, 'must be at least 1 epoch').max(1000).optional(),
  budgetSteps: z.coerce.number().int('must be a whole number of optimizer steps').min(1, 'must be at least 1 step').max(10_000_000).optional(),
  batchSize: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(65536).optional(),
  seed: z.coerce.number().int(`must be a whole number from 0 to ${MAX_SEED}`).min(0, `must be a whole number from 0 to ${MAX_SEED}`).max(MAX_SEED, `must be a whole number from 0 to ${MAX_SEED}`),
  splitSeed: z.coerce.number().int(`must be a whole number from 0 to ${MAX_SEED}`).min(0, `must be a whole number from 0 to ${MAX_SEED}`).max(MAX_SEED, `must be a whole number from 0 to ${MAX_SEED}`).optional(),
  json: z.boolean().optional(),
  backend: z.string(),
  granularity: z.enum(['connection', 'unit', 'hierarchical']).optional(),
  objective: z.enum(['params', 'flops', 'latency']),
  servingBatch: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(65536).optional(),
  compact: z.boolean().optional(),
  logdir: z.string().optional(),
  quiet: z.boolean().optional(),
  verbose: z.boolean().optional(),
  exclude: z.array(z.string()).transform((v) => v.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '')).optional(),
});

/** `autoprune --target T ...`: runs the agent and writes outputs. Returns the exit code. */
export async function pruneCommand(raw: Record<string, unknown>, _args: string[]): Promise<number> {
  const f = parseFlags(PruneFlags, raw);
  if (f.target == null && f.targets == null) throw new UsageError('required option --target <fraction> (or --targets <list>) not specified, e.g. --target 0.8');
  if (f.target != null && f.targets != null) throw new UsageError('give --target or --targets, not both (--targets 0.5,0.8 prunes to 0.8 and records 0.5 on the way)');
  const target = f.target ?? f.targets!.at(-1)!;
  const frontier = f.targets?.slice(0, -1) ?? [];
  if (f.quiet && f.verbose) throw new UsageError('give --quiet or --verbose, not both');
  if (f.verbose) process.env.AUTOPRUNE_TF_LOG = '1';
  const backend = await selectBackendAsync(f.backend as BackendName | 'auto');
  const reporter = createConsoleReporter({ json: f.json ?? false, target, verbosity: f.quiet ? 'quiet' : f.verbose ? 'verbose' : 'normal' });
  reporter.backend(backend);
  const { runPrune } = await import('../api.js');
  const controller = new AbortController();
  // Ctrl-C and SIGTERM (a job scheduler's or container's stop) end the run after the batch, resumable.
  const offSignals = onStopSignals((signal) => {
    if (controller.signal.aborted) return;
    markStopping();
    reporter.note(`${signal === 'SIGINT' ? 'interrupt' : 'SIGTERM'} received: stopping after the current batch${signal === 'SIGINT' ? ' (press Ctrl-C again to quit at once)' : ''}…`);
    controller.abort();
  });
  const onStdoutClosed = () => controller.abort();
  stdoutClosed.signal.addEventListener('abort', onStdoutClosed);
  try {
    const result = await runPrune({
      target, frontier, model: f.model, data: f.data, label: f.label, ignoreColumns: f.ignoreColumns, task: f.task, labelOrder: f.labelOrder, classWeight: f.classWeight, split: f.split, valData: f.valData, testData: f.testData, standardize: f.standardize, inputScale: f.inputScale, maxDrop: f.maxDrop, policy: f.policy,
      out: f.out, overwrite: f.overwrite, force: f.force, resume: f.resume, budgetEpochs: f.budget, budgetSteps: f.budgetSteps, batchSize: f.batchSize, seed: f.seed, splitSeed: f.splitSeed,
      granularity: f.granularity, objective: f.objective, servingBatch: f.servingBatch, compact: f.compact, exclude: f.exclude, logdir: f.logdir,
      signal: controller.signal, onEvent: (e: AgentEvent) => reporter.event(e),
    });
    reporter.finished(result.report, result.outDir!);
    result.model.dispose();
    return result.report.final.exitCode;
  } catch (err) {
    if (err instanceof InterruptedError) {
      const dir = checkpointDirFor(f.out);
      if (!new Checkpointer(dir).exists()) throw new InterruptedError('interrupted before the first accepted step was checkpointed (a step accepted but interrupted on its way to the checkpoint is not kept); nothing to resume');
      // Quoted for a POSIX shell where a word needs it (spaces, quotes, `*`, a path in another script): pasted, it runs.
      const again = ['autoprune', ...process.argv.slice(2).filter((a) => a !== '--resume'), '--resume'].map(shellWord).join(' ');
      throw new InterruptedError(`interrupted; the last accepted step is checkpointed in ${dir} (a rerun without --resume starts over). Resume with: ${again}`);
    }
    throw err;
  } finally {
    reporter.close();
    offSignals();
    stdoutClosed.signal.removeEventListener('abort', onStdoutClosed);
  }
}

export { UsageError };

/** `word` as a POSIX shell reads it back: as it is when only safe characters, else in single quotes (a ' as '\''). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
