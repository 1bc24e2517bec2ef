import cliProgress from 'cli-progress';
import { dirname } from 'node:path';
import { stdoutClosed } from '../cli/stdout.js';
import { MAX_BUDGET_EXTENSIONS } from '../agent/budget.js';
import { GUARD_Z } from '../agent/guard.js';
import { RECOVERED, STRICT_TRY_NOTE } from '../agent/loop.js';
import { CORRECTION_WEIGHT } from '../policy/allocated.js';
import type { AgentEvent } from '../agent/events.js';
import { slowBackendWarning, type BackendInfo } from '../backend/tf.js';
import { describeStop, guardHeld, relativeChange, speedUpInNoise, speedUpText, type CompactLatency, type RunReport } from './report.js';
import { oneLine } from '../util/one-line.js';
import { isBuiltInModel } from '../models/default-model.js';
import { describeRewrite } from '../pruning/rewrite.js';
import { progressName } from '../pruning/prunable-model.js';

/** `n thing` or `n things`. */
/** Fewer validation rows than this make R² a noisy guard (its standard error is large); the start line says so. */
const count = (n: number, thing: string): string => `${n} ${thing}${n === 1 ? '' : 's'}`;

export interface ConsoleReporter {
  backend(info: BackendInfo): void;
  event(e: AgentEvent): void;
  note(msg: string): void;
  finished(report: RunReport, outDir: string): void;
  close(): void;
}

/** How much the console says: 'quiet' only warnings, errors and the final status; 'verbose' also every fine-tune round. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

const pct = (v: number, d = 1) => `${(100 * v).toFixed(d)} %`;
/** A step's "from → to", with the decimals that tell them apart (a step of 0.06 points of sparsity is not "98.6 % → 98.6 %"). */
const span = (from: number, to: number) => {
  const d = decimalsApart(100 * from, 100 * to, 1);
  return `${pct(from, d)} → ${pct(to, d)}`;
};
/** The fewest decimals from `min` (at most 4) at which `a` and `b` print differently (4 where they never do). */
function decimalsApart(a: number, b: number, min: number): number {
  let d = min;
  while (d < 4 && a.toFixed(d) === b.toFixed(d)) d++;
  return d;
}

/** The validation figures the guard judged, beside the test ones: on a small split they can differ by rows. */
function validationLine(report: RunReport, metric: string, f: (v: number) => string): string {
  const g = report.guard;
  const guard = g && g.finalAllowedDrop != null
    // A negative drop is a gain over the reference: said as one ("drop … −1.75 points" read as a loss).
    ? ` (the guard's paired drop vs the ${g.reference === 'dense' ? 'dense model' : 'fine-tuned dense control'}: ${g.finalDrop < 0 ? `none, a gain of ${(-100 * g.finalDrop).toFixed(2)}` : (100 * g.finalDrop).toFixed(2)} points, allowed ${(100 * g.finalAllowedDrop).toFixed(2)}` +
      // The allowance is --max-drop plus what the split's noise excuses: said where it adds anything, so that "allowed 2.53" under --max-drop 1 reads as designed.
      `${100 * g.finalAllowedDrop - g.maxDrop > 0.005 ? ` = --max-drop ${g.maxDrop} + ${(100 * g.finalAllowedDrop - g.maxDrop).toFixed(2)} for the validation rows' noise${g.z != null ? ` (${g.z} s.e. of this estimate${g.noiseCap != null ? `, at most ${g.noiseCap.toFixed(2)}` : ''})` : ''}` : ''})`
    : '';
  // The reference is the lower of the dense model and its fine-tuned control: where the control scored higher (an
  // under-trained model: a new user's 92.6 % dense, 98.2 % fine-tuned alone) its figure is said, since the gain shown is
  // then fine-tuning's, and the guard held the pruned model to the model as given, not to what fine-tuning reaches.
  const ctl = g?.reference === 'dense' ? g.fineTunedControlValAccuracy : undefined;
  // Where the control scored lower, it is the reference: its figure is said, or "dense 90.24 % → 87.80 % pruned" beside a
  // drop of "0.00 points" reads as a broken guard (a new user's run whose frozen layer made fine-tuning itself cost 2.4 points).
  const below = g?.reference === 'control' ? g.controlValAccuracy : undefined;
  const control = ctl != null && g && ctl - report.dense.valAccuracy > g.maxDrop / 100
    ? `; fine-tuned alone, unpruned, the dense model scores ${f(ctl)}: the guard held the pruned model to the model as given, not to that`
    : below != null
      ? `; the control, the dense model fine-tuned alone (unpruned), scores ${f(below)}: what fine-tuning itself cost is not counted as pruning's`
      : '';
  return `  validation ${metric} ${f(report.dense.valAccuracy)} dense → ${f(report.final.valAccuracy)} pruned${guard ? `${guard.slice(0, -1)}${control})` : ''}\n`;
}

/**
 * Progress for people (a bar on a TTY, one line per step) or for machines (`--json`: one event object
 * per line on stdout, the same objects the library's onEvent receives). Human text goes to stderr so
 * stdout stays clean for pipes.
 */
/**
 * How many test rows the test figures come from, and on a small test split of accuracies what one row is worth:
 * "100 % from 1 test row" must not read like a measurement.
 */
function testRows(report: RunReport): string {
  const n = report.samples?.test;
  if (n == null) return '';
  const perRow = report.task?.kind === 'regression' || report.task?.kind === 'autoencoder' ? undefined : 100 / n;
  // A user's model scored on rows split from the file it came with: held out from the fine-tuning, not necessarily from
  // the model's own training (a new user's single CSV: 98.3 % here, 94.7 % on rows it never saw).
  const c = report.config;
  const own = !isBuiltInModel(c.model) && c.testData == null && /\.(csv|tsv|tab|txt)$/i.test(c.data)
    ? `, split from ${c.data}: rows your model may have trained on unless you held them out (--test-data gives rows it never saw)` : '';
  return `; ${count(n, 'test row')}${perRow != null && n < 200 ? `: 1 row${c.classWeight ? ' of mean weight' : ''} = ${perRow.toFixed(2)} points` : ''}${own}`;
}

/** At the default verbosity without a progress bar, a fine-tune round is printed once this long has passed without a line. */
export const PROGRESS_SILENCE_MS = 10_000;
/** How long a training before `start` runs before the console says what it is. */
export const PHASE_NOTICE_MS = 3_000;
/** Prunable weights from which a step's line is said as it begins: a scoring pass takes about 0.5–0.7 µs a weight (docs/benchmarks.md, "Scale"). */
export const SCORING_SAID_AT_ONCE = 5_000_000;

export function createConsoleReporter(o: { json: boolean; target: number; stream?: NodeJS.WriteStream; verbosity?: Verbosity }): ConsoleReporter {
  const err = o.stream ?? process.stderr;
  const level = o.verbosity === 'quiet' ? 0 : o.verbosity === 'verbose' ? 2 : 1;
  const tty = Boolean(err.isTTY) && !o.json && level > 0;
  let bar: cliProgress.SingleBar | undefined;
  /** Set by a 'compact' event (--compact): its files are listed with the run's outputs. */
  let compacted = false;
  /** Whether the run pruned anything (a step accepted, or a resume past 0), and whether its steps took whole units. */
  let pruned = false;
  let wholeUnits = false;
  /** The run's prunable weights (its start event). */
  let prunable = 0;
  /** What a step scores and prunes, for its slow-phase line: 'connections', 'units' (whole units / filters) or both. */
  let scored = 'connections';
  /** When the last line was written: without a progress bar (a log, a pipe), a long fine-tune says where it is. */
  let lastLineAt = Date.now();
  /** A line at `need` (0: warnings, shown even with --quiet; 1: progress; 2: --verbose detail). */
  const line = (msg: string, need = 1) => {
    if (o.json || level < need) return;
    if (bar) bar.stop();
    err.write(`${msg}\n`);
    lastLineAt = Date.now();
    if (bar) bar.start(100, 0);
  };
  let progress = 0;
  /** The task's metric (accuracy, exact-match accuracy, R²): R² is printed as a number, the others as percentages. */
  let metric = 'accuracy';
  const fmt = (v: number) => (metric === 'R²' ? v.toFixed(3) : pct(v, 2));
  /** A validation figure in a step or round line: R² named (a bare 0.539 says nothing), accuracy as a percentage. */
  // R² within a thousandth of 1 with more digits: rounded, rounds that still improve all read 1.000 (a new user's autoencoder).
  const valFmt = (v: number) => (metric === 'R²' ? `R² ${v >= 0.9995 && v < 1 ? v.toFixed(6) : v.toFixed(3)}` : fmt(v));
  /** What the step lines' percentages count: weights, or compute with objective 'flops'. */
  let measure = 'sparsity';
  const setProgress = (sparsity: number, label: string) => {
    progress = Math.min(100, Math.round((100 * sparsity) / o.target));
    bar?.update(progress, { label });
  };
  /** A training before `start` (the control) said only when it is still running after this long: a small model's is over in a second. */
  let slowPhase: NodeJS.Timeout | undefined;
  /** Whether the polish's start was said by its slow-phase notice (its first round's line then does not repeat it). */
  let polishSaid = false;
  const quietPhase = () => { if (slowPhase) clearTimeout(slowPhase); slowPhase = undefined; };
  /** The native backend's line and the warnings of the input checks, held until the run's first other event. */
  let pendingBackend: string | undefined;
  const held: AgentEvent[] = [];
  /** The slow-backend warning said by backend(), not repeated when the run's event says it. */
  let backendSaid: string | undefined;
  let begun = false;
  const reporter: ConsoleReporter = {
    backend(info) {
      const slow = slowBackendWarning(info);
      // Said here at once; the run's own warning event with the same words (every run emits it, for report.json and the
      // API's handlers) is then not said again.
      backendSaid = slow;
      // --json: a pipeline reads events only, so the slow backend is a warning event there (it only had start.native).
      if (o.json) {
        if (slow) process.stdout.write(`${JSON.stringify({ type: 'warning', message: slow })}\n`);
        return;
      }
      if (slow) {
        err.write(`autoprune: WARNING ${slow}\n`);
      } else if (level > 0) {
        // Said with the run's first event: a run refused for bad input before it says nothing but its one error line.
        pendingBackend = `autoprune: backend ${info.name} (native, ${info.source.includes('.native') ? 'built from a local TensorFlow wheel' : info.source})\n`;
      }
    },
    event(e) {
      if (e.type === 'warning' && backendSaid != null && e.message === backendSaid) return;
      if (!o.json && !begun) {
        // Warnings found while the inputs are checked wait for the run's first other event: a run refused for bad input
        // then says nothing but its one error line (the warnings come back when the fixed command runs).
        if (e.type === 'warning') {
          held.push(e);
          return;
        }
        begun = true;
        if (pendingBackend) err.write(pendingBackend);
        pendingBackend = undefined;
        for (const w of held.splice(0)) reporter.event(w);
      }
      if (o.json) {
        if (!stdoutClosed.signal.aborted) process.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      // (The control's own rounds leave the notice armed: a first round ending within 3 s said nothing of the rest.)
      if (!(e.type === 'epoch' && e.phase === 'control')) quietPhase();
      switch (e.type) {
        case 'phase':
          // Each phase's own line only where it takes a while (a large model's step began with half a minute of silence).
          {
            const say = () => {
              if (e.phase === 'control') line(`autoprune: fine-tuning the dense model like one step (up to ${e.steps} optimizer steps at batch ${e.batchSize}, unpruned, put back after) as the guard's reference…`);
              else if (e.phase === 'step') line(`  step ${e.step}${e.branch != null ? ` branch to ${pct(e.branch)} (from the state before the step)` : ''}: scoring the ${scored} and pruning to ${pct(e.to ?? 0)} ${measure === 'sparsity' ? 'sparsity' : `(${measure})`}, then fine-tuning…`);
              else {
                line(`  polish: fine-tuning the final model (up to ${e.steps} optimizer steps)…`);
                polishSaid = true;
              }
            };
            // A step's scoring holds the event loop (no timer fires until it is done: a new user's 11.6 M-weight model
            // said "scoring" 90 s late, once it was over): on a model whose scoring takes seconds, said at once.
            if (e.phase === 'step' && prunable >= SCORING_SAID_AT_ONCE) say();
            else {
              slowPhase = setTimeout(say, PHASE_NOTICE_MS);
              slowPhase.unref();
            }
          }
          break;
        case 'start':
          measure = progressName(e.objective);
          prunable = e.prunable;
          pruned = e.sparsity > 0;
          wholeUnits = (e.granularity ?? 'connection') !== 'connection' || e.objective !== 'params';
          scored = e.objective !== 'params' || e.granularity === 'unit' ? 'units' : e.granularity === 'hierarchical' ? 'units and connections' : 'connections';
          metric = e.metric ?? 'accuracy';
          line(`autoprune: ${e.resumed ? `resuming from ${pct(e.sparsity)} (the checkpoint's last accepted step)` : 'pruning'} to ${pct(e.target)} ${e.objective === 'params' ? 'sparsity' : e.objective === 'flops' ? 'of compute removed' : `of the predicted time per call removed (${e.latency ? `${e.latency.denseMs.toFixed(2)} ms at batch ${e.latency.batch}, ` : ''}${e.resumed ? 'timed when the run started' : 'timed here'})`} with policy '${e.policy}'${e.policyFile ? ` (${e.policyFile})` : ''}; ` +
            `dense val ${metric} ${fmt(e.denseValAccuracy)}, max drop ${e.maxDrop} points${metric === 'R²' ? ' (0.01 of R² each)' : ''} (+${GUARD_Z} s.e. of the paired estimate vs the lower of the dense model and a fine-tuned dense control, ${metric === 'R²' ? 'at most twice max drop' : `at most two validation rows more${e.pointsPerRow != null ? `: up to ${(e.maxDrop + 2 * e.pointsPerRow).toFixed(2)} points on these ${e.valRows ?? '?'} rows` : ''}`})`);
          if (e.outsideDomain?.length) {
            const shown = e.outsideDomain.slice(0, 3).map((x) => `'${x.layer}' (${x.why})`).join(', ');
            line(`  policy '${e.policy}' has not seen layers like ${shown}${e.outsideDomain.length > 3 ? `, and ${e.outsideDomain.length - 3} more` : ''}: ` +
              `LAMP allocates the sparsity across layers, and inside each the policy's ranks are mixed into LAMP's at weight ${CORRECTION_WEIGHT} ('${e.scoredAs}'; docs/agent.md, "Outside the policy's domain")`);
          }
          if ((e.given ?? (e.resumed ? 0 : e.sparsity)) > 0.005) {
            const given = e.given ?? e.sparsity;
            line(e.objective !== 'params'
              ? `  the model as given has ${pct(given)} of the prunable kernels' multiply-accumulates on zero weights, counted as removed (they stay zero; compaction takes out only those of whole units, and a model with more than 1 % of its MACs on other zeros is refused for it): "dense" below means this model, not an unpruned one`
              : `  the model as given is already ${pct(given)} sparse (its zero weights stay zero): "dense" below means this model, not an unpruned one`);
          }
          if (e.params != null) {
            const share = e.prunable / Math.max(1, e.params);
            line(`  prunable: ${e.prunable.toLocaleString('en')} kernel weights = ${(100 * share).toFixed(1)} % of the model's ${e.params.toLocaleString('en')} parameters; sparsity counts these`);
            for (const u of e.untouched ?? []) line(`  left dense: '${u.name}' (${u.className}, ${u.params.toLocaleString('en')} parameters): ${u.reason}`);
            for (const k of e.unitsKept ?? []) line(`  units kept (whole-unit pruning cannot remove them, compaction would not): '${k.layer}': ${k.reason}`);
            if (share < 0.5) line(`  warning: less than half of the model's parameters are in layers autoprune prunes; the target applies to those ${(100 * share).toFixed(1)} % only`);
          }
          if (e.valRows != null) {
            // A row of R² is not worth a fixed number of points: only 0/1 scores have a resolution (absent for R²).
            const n = `${e.valRows} validation row${e.valRows === 1 ? '' : 's'}`;
            const rows = metric === 'R²' || e.pointsPerRow == null ? n : `${n}, 1 row${e.classWeight ? ' of mean weight' : ''} = ${e.pointsPerRow.toFixed(2)} points`;
            // The default budget can grow (a run still improving when it runs out): said here, so that a run several times as long is no surprise.
            const grows = e.budgetSource === 'default'
              ? ` (the default for this data: extended while the run still improves when it runs out — once, and on small data up to ${MAX_BUDGET_EXTENSIONS + 1}× in all; --budget-steps N sets a limit)`
              : '';
            line(`  guard: ${rows}; fine-tuning budget ${e.budgetSteps ?? '?'} optimizer steps at batch ${e.batchSize ?? '?'}${grows}`);
            if (e.loss) line(`  fine-tuning loss (the "loss" figures below): ${e.loss}`);
            if (e.classWeight) {
              const each = Object.entries(e.classWeight.training).map(([c, w]) => `'${c}' ×${w}`).join(', ');
              line(`  class weights ${e.classWeight.given === 'balanced' ? '(balanced)' : 'as given'}: fine-tuning draws training rows by them (${each}: per row, scaled to a mean of 1 over the training rows), and the guard and every figure below are ${metric}`);
            }
            if (e.distill) line(`  fine-tuning distils from the model as given: targets ${+(1 - e.distill.weight).toFixed(4)} × labels + ${e.distill.weight} × its probabilities at temperature ${e.distill.temperature} (whole units removed)`);
          }
          if (tty) {
            bar = new cliProgress.SingleBar({ format: '  {bar} {percentage}% of target | {label}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
            bar.start(100, 0, { label: 'scoring' });
          }
          setProgress(e.sparsity, 'scoring');
          break;
        case 'epoch':
          if (e.phase === 'control') {
            // Before the start line: the dense model fine-tuned like one step, unpruned, for the guard to compare with.
            // Every round with --verbose; at the default verbosity a round after 10 s of silence (no progress bar runs yet).
            line(`autoprune: the guard's reference, the dense model fine-tuned like one step (unpruned, put back after): round ${e.epoch + 1} of ${e.epochs ?? '?'}` +
              // (Losses only: the metric is named by the start event, which follows.)
              `${e.roundSteps ? ` (${e.roundSteps} steps)` : ''}: loss ${lossText(e.loss)}${e.valLoss != null ? `, val loss ${lossText(e.valLoss)}` : ''}`,
            Date.now() - lastLineAt >= PROGRESS_SILENCE_MS ? 1 : 2);
            break;
          }
          if (e.phase === 'dense') {
            if (e.epoch === 0) line(`autoprune: training the default model on first use (cached afterwards): ${e.steps != null ? `${e.steps} optimizer steps in ${e.epochs ?? '?'} rounds` : `${e.epochs ?? '?'} epochs`}…`);
            if (e.epoch + 1 === e.epochs) line(`autoprune: default model trained (final training loss ${e.loss.toFixed(3)}, the loss the "fine-tuning loss" line below names)`);
            break;
          }
          {
            // The polish can take a while after the last step line: said once, at the default verbosity, with its first
            // round's figures (the line comes at that round's end; a large model's polish said round 2 first).
            const polishStarts = e.phase === 'polish' && e.epoch === 0;
            if (polishStarts && !polishSaid) line(`  polish: fine-tuning the final model${e.epochs ? ` (${e.epochs} round${e.epochs > 1 ? 's' : ''} in the budget)` : ''}…`);
            const what = e.phase === 'polish' ? 'polish' : e.branch != null ? `step ${e.step} branch to ${pct(e.branch)} fine-tune` : `step ${e.step} fine-tune`;
            bar?.update(progress, { label: `${what} round ${e.epoch + 1}${e.valAccuracy != null ? `, val ${valFmt(e.valAccuracy)}` : ''}` });
            // Every round with --verbose; at the default verbosity without a progress bar, a round after 10 s of
            // silence (a large model's polish ran 70 s without a line in a log).
            const quietFor = Date.now() - lastLineAt;
            line(`    ${what} round ${e.epoch + 1}${e.epochs && e.phase === 'polish' ? ` of up to ${e.epochs}` : ''}${e.roundSteps ? ` (${e.steps != null ? Math.max(1, Math.min(e.roundSteps, e.steps - e.epoch * e.roundSteps)) : e.roundSteps} steps)` : ''}: loss ${lossText(e.loss)}${e.valLoss != null ? `, val loss ${lossText(e.valLoss)}` : ''}${e.valAccuracy != null ? `, val ${valFmt(e.valAccuracy)}` : ''}`,
              !tty && (polishStarts || quietFor >= PROGRESS_SILENCE_MS) ? 1 : 2);
          }
          break;
        case 'step':
          pruned = true;
          line(`  step ${e.step}: ${measure} ${span(e.fromSparsity, e.toSparsity)}, val ${valFmt(e.valAccuracy)}, accepted (${e.fineTuneSteps ?? '?'} fine-tune steps, ${e.seconds.toFixed(1)} s${e.reason ? `; ${e.reason}` : ''})`);
          setProgress(e.toSparsity, 'scoring');
          break;
        case 'rollback':
          line(`  step ${e.step}: ${measure} ${span(e.fromSparsity, e.toSparsity)}, val ${valFmt(e.valAccuracy)}` +
            (e.collapsedTo != null
              ? `, no better than always answering the most common class (${fmt(e.collapsedTo)} of the validation rows; the ${e.reference === 'dense' ? 'dense model' : 'fine-tuned dense control'} scores ${fmt(e.controlValAccuracy ?? 0)})`
              : e.drop != null && e.allowedDrop != null && e.controlValAccuracy != null
              ? `, ${twoNumbers(100 * e.drop, 100 * e.allowedDrop)[0]} points below the ${e.reference === 'dense' ? 'dense model' : 'fine-tuned dense control'} (${fmt(e.controlValAccuracy)}) on the same rows > allowed ${twoNumbers(100 * e.drop, 100 * e.allowedDrop)[1]}` +
                // The jump to the target after a guard stop is judged by --max-drop alone: its "allowed" is smaller than the
                // steps' (a new user asked why). Only that one: a last try after a budget stop keeps the noise allowance.
                (e.reason?.includes(STRICT_TRY_NOTE) ? ' (--max-drop alone: after a guard stop the jump to the target gets no allowance for the validation rows\' noise)' : '') +
                // A step refused within the noise cap while improving was fine-tuned longer before this verdict: said (report.json had it only).
                (e.reason?.includes(RECOVERED) ? ` (judged after a longer fine-tune: ${e.fineTuneSteps ?? '?'} steps)` : '')
              : ` < guard ${fmt(e.floor)}`) + `: rolled back; ${e.next}`);
          break;
        case 'compact':
          if (e.target != null) {
            // A lower target's folder (--targets): one line each; its files hold the same forms as the run's own.
            const macs = e.allKernelsMacs ?? (e.denseMacs != null ? { dense: e.denseMacs, compact: e.compactMacs ?? e.denseMacs } : undefined);
            line(`autoprune: compacted the frontier's target ${e.target}: ${e.paramsBefore.toLocaleString('en')} → ${e.paramsAfter.toLocaleString('en')} parameters` +
              (macs ? `, ${macs.compact.toLocaleString('en')} of ${macs.dense.toLocaleString('en')} multiply-accumulates per sample (${(100 * (1 - macs.compact / Math.max(1, macs.dense))).toFixed(1)} % removed${e.allKernelsMacs ? ', every kernel' : ''})` : '') +
              (e.latency ? `, predict ${e.latency.denseMs.toFixed(2)} → ${e.latency.compactMs.toFixed(2)} ms at ${e.latency.batch} samples a call (${speedUpText(e.latency)}, measured here)` : '') +
              ` in ${e.path}`);
            break;
          }
          compacted = true;
          line(`autoprune: compacted: ${e.paramsBefore.toLocaleString('en')} → ${e.paramsAfter.toLocaleString('en')} parameters ` +
            `(units removed: ${e.layers ? e.unitsRemoved.map((n, i) => [n, e.layers![i], e.unitsBefore?.[i]] as const).filter(([n]) => n > 0).map(([n, name, of]) => `${name} ${n}${of != null ? ` of ${of}` : ''}`).join(', ') || 'none' : e.unitsRemoved.join(' / ')}) in ${e.path}`);
          for (const k of e.skipped) line(`  left intact: '${k.layer}': ${k.reason}`);
          if (e.unitsRemoved.every((n) => n === 0)) {
            line(!pruned
              ? '  no unit was removed: the guard accepted no step, so the compact model is the dense one (the summary below says what to rerun with)'
              : wholeUnits
                ? '  no whole unit was removed: the steps the guard accepted took none, so the compact model keeps the dense shape and compute'
                : '  no whole unit could go: pruning single connections (the default granularity) leaves every unit some weights, so the compact model keeps ' +
                  'the dense shape and the dense compute (tfjs has no sparse kernels: the live-weight compute the report counts is not a speed-up); ' +
                  '--granularity unit removes whole units, and --objective flops counts the compute they take with them');
          }
          for (const w of e.rewrites ?? []) line(`  ${describeRewrite(w)}`);
          if (e.compactMacs != null) {
            line(`  the compact model runs ${(e.allKernelsMacs?.compact ?? e.compactMacs).toLocaleString('en')} multiply-accumulates per sample` +
              (e.allKernelsMacs
                ? ` in every kernel (the frozen and excluded ones included) of the dense model's ${e.allKernelsMacs.dense.toLocaleString('en')} (${(100 * (1 - e.allKernelsMacs.compact / Math.max(1, e.allKernelsMacs.dense))).toFixed(1)} % removed; its kernels' own shapes)` +
                  (e.denseMacs ? `; in the prunable kernels ${e.compactMacs.toLocaleString('en')} of ${e.denseMacs.toLocaleString('en')} (${(100 * (1 - e.compactMacs / e.denseMacs)).toFixed(1)} % removed)` : '')
                : e.denseMacs ? ` of the dense model's ${e.denseMacs.toLocaleString('en')} (${(100 * (1 - e.compactMacs / e.denseMacs)).toFixed(1)} % removed; its kernels' own shapes)` : ' (its kernels\' own shapes)'));
          }
          if (e.latency) line(`  ${latencyLine(e.latency, e.paramsAfter < e.paramsBefore)}`);
          if (e.maxAbsDiff) {
            line(`  max |output − pruned model's output| on ${e.probeInputs ?? 'its probe inputs'}: compact ${e.maxAbsDiff.compact.toExponential(2)}, ` +
              `model.sparse ${e.maxAbsDiff.sparse.toExponential(2)}${e.maxAbsDiff.sparseInt8 != null ? `, model.int8.sparse ${e.maxAbsDiff.sparseInt8.toExponential(2)}` : ''}` +
              (e.int8ClassChanges ? ` (int8 changes the predicted class of ${e.int8ClassChanges.rows} of ${e.int8ClassChanges.of} rows)` : ''));
          }
          if (e.largeBatchRewrites) {
            line(`  served 128 or more samples a call: \`autoprune compact ${e.path ? dirname(e.path) : '<out>'} --serving-batch 256\` also rewrites ${e.largeBatchRewrites} one-channel map${e.largeBatchRewrites > 1 ? 's' : ''} (1.14–1.47× measured at batch 128–256, slower below: docs/compaction.md)`);
          }
          break;
        case 'warning':
          line(`autoprune: warning: ${oneLine(e.message)}`, 0);
          break;
        case 'budget':
          line(`  budget: ${e.message}`);
          break;
        case 'polish':
          line(`  polish: ${e.message}`);
          break;
        case 'frontier':
          // With objective 'flops' the target counts compute: that first, the weights' sparsity beside it.
          line(`  frontier: target ${pct(e.target)} ${e.beyond ? `passed (its branch rejected), ${e.beyond.branch != null ? `the branch to ${pct(e.beyond.branch)}'s model` : 'the step\'s own model'} kept for it` : 'reached and kept'} (${measure === 'compute removed' && e.computeRemoved != null ? `${pct(e.computeRemoved, 2)} of the prunable kernels' compute removed, ` : ''}sparsity ${pct(e.sparsity, 2)} of the prunable kernel weights, val ${valFmt(e.valAccuracy)}, test ${fmt(e.testAccuracy)}, after ${e.fineTuneSteps} fine-tune steps)`);
          break;
        case 'checkpoint':
        case 'done':
        case 'error':
          break;
      }
    },
    note(msg) {
      quietPhase();
      line(`autoprune: ${msg}`, 0);
    },
    finished(report, outDir) {
      quietPhase();
      // --json: the library's own 'done' event was already printed.
      if (o.json) return;
      const f = report.final;
      bar?.stop();
      bar = undefined;
      // In hundredths of a point, as printed: a float residue of an unchanged accuracy is no drop (not "−0.00").
      const drop = Math.round(10_000 * (report.dense.testAccuracy - f.testAccuracy)) / 100;
      metric = report.task?.metric ?? metric;
      const summary =
        `autoprune: ${describeStop(f, guardHeld(report))}\n` +
        `  sparsity ${pct(f.sparsity, 2)} of the ${report.dense.prunable.toLocaleString('en')} prunable kernel weights` +
        `${f.sparsityOfAllParams != null ? ` (${pct(f.sparsityOfAllParams, 2)} of all ${report.dense.params.toLocaleString('en')} parameters)` : ''}` +
        // Zeros inside a kernel cost as much as any weight in tfjs: compute is only claimed where whole units go.
        // Only whole units leave the model: at connection or hierarchical granularity the live-weight count is no compute claim.
        `${f.compute && report.config.granularity === 'unit' ? `, ${pct(f.compute.reduction, 1)} of the prunable kernels' multiply-accumulates pruned${f.compute.allKernels ? ` (${pct(f.compute.allKernels.reduction, 1)} of every kernel's, the frozen and excluded ones' counted as they are)` : ''} ${compacted && report.compact?.macs ? `(the compact model runs ${report.compact.macs.compact.toLocaleString('en')} of the dense ${report.compact.macs.dense.toLocaleString('en')}: ${pct(report.compact.macs.reduction, 1)} removed)` : compacted ? '(the compact model\'s own count is above)' : '(`autoprune compact` measures what the compact model runs)'}` : ''} | test ${metric} ${fmt(report.dense.testAccuracy)} dense → ${fmt(f.testAccuracy)} pruned (${drop > 0 ? '−' : drop < 0 ? '+' : '±'}${Math.abs(drop).toFixed(2)} points${testRows(report)})\n` +
        (f.latency ? `  predicted time per predict call of ${f.latency.batch}: ${f.latency.denseMs.toFixed(2)} → ${f.latency.predictedMs.toFixed(2)} ms (${pct(f.latency.reduction, 1)} removed, the target's measure: per-layer costs timed at the start, whose ms can differ from a later timing on a machine whose load moves: compare speed-ups; ${compacted ? 'the compact model\'s measured speed-up is above' : '`autoprune compact --serving-batch ' + f.latency.batch + '` times the compact model'})\n` : '') +
        validationLine(report, metric, fmt) +
        (f.labels ? `  per label (test recall of its positive rows, dense → pruned): ${f.labels.map((l) => `${l.name} ${l.denseRecall == null ? '—' : (100 * l.denseRecall).toFixed(1)} → ${l.recall == null ? '—' : (100 * l.recall).toFixed(1)} % of ${l.testPositives}`).join(', ')}\n` : '') +
        (f.targets ? `  per target (test R², the average above weighs each alike): ${f.targets.map((t) => `${t.name} ${t.denseTestR2.toFixed(3)} → ${t.testR2.toFixed(3)}`).join(', ')}\n` : '') +
        (f.testErrors ? `  ${errorsLine(f.testErrors)}\n` : '');
      // --quiet: the status and the figures, and on exit 3 what to rerun with (the status line points to it); the rest is in report.json.
      if (level === 0) {
        err.write(summary + (f.advice ? `  to go further: ${f.advice}\n` : ''));
        return;
      }
      err.write(summary +
        `  ${count(report.totals.accepted, 'step')} accepted, ${report.totals.rolledBack} rolled back, ${report.totals.fineTuneSteps ?? '?'} fine-tune steps (${report.totals.fineTuneEpochs} epochs${report.totals.frontierSteps ? `; ${report.totals.frontierSteps} of them on the branches to the lower --targets, on top of the ${report.config.budgetSteps} budget` : ''}${report.totals.controlSteps ? `; besides, the guard's control: ${report.totals.controlSteps} steps, not from the budget` : ''}), ${(report.phases.total ?? 0).toFixed(1)} s${report.config.resumed ? ' (the whole run\'s: the sessions before the resume up to their checkpoint, and this one)' : ''}\n` +
        (f.advice ? `  to go further: ${f.advice}\n` : '') +
        frontierLines(report, fmt) +
        servingLine(report, outDir, compacted) +
        (report.standardization ? `  inputs were standardized: the model expects (value − mean) / std per column, the training rows' figures in report.json "standardization"${constantNote(report.standardization)}\n` : '') +
        `  wrote ${outDir}/ (model/, masks.json, report.json, report.html${report.frontier ? `, frontier.json${report.frontier.some((r) => r.reached && r.path) ? ', frontier/' : ''}` : ''}${compacted ? ', compact/, model.sparse, model.int8.sparse' : ''})\n`);
    },
    close() {
      quietPhase();
      bar?.stop();
      bar = undefined;
    },
  };
  return reporter;
}

/** Where the pruned model keeps batch norms and was not compacted: `autoprune compact` folds them for serving. */
function servingLine(report: RunReport, outDir: string, compacted: boolean): string {
  if (compacted) return '';
  const bn = (report.dense.untouched ?? []).filter((u) => u.className === 'BatchNormalization').length;
  const foldable = report.dense.foldableBatchNorms ?? bn;
  if (!bn || !foldable) return '';
  return `  for serving: the model keeps ${bn} batch norm${bn > 1 ? 's' : ''}; \`autoprune compact ${outDir}\` folds ${foldable === bn ? (bn > 1 ? 'them' : 'it') : `${foldable} of them (those right after a linear conv or Dense layer)`} into the layer before: the same outputs, faster in tfjs-node (1.2–3.6× measured on small MobileNet/ResNet-style models, more at batch 1 than at 256: docs/compaction.md)\n`;
}

/** The test error in the targets' units: RMSE per target column (regression) or MSE per output value (autoencoder). */
function errorsLine(e: NonNullable<RunReport['final']['testErrors']>): string {
  // Four significant digits of the dense figure, and the pruned one to the same decimals (2.664 → 2.770, not → 2.77).
  const decimals = (v: number) => (v > 0 ? Math.min(8, Math.max(0, 3 - Math.floor(Math.log10(v)))) : 3);
  // With the change in percent of the dense error: an R² near 1 moves in its third decimal where the error grows by a
  // quarter (a new user's CO2 regression: R² 1.000 → 0.999, "−0.02 points", RMSE 0.524 → 0.656).
  const change = (v: { dense: number; pruned: number }) => (v.dense > 0 && Number.isFinite(v.pruned) ? ` (${relativeChange(v.pruned / v.dense - 1)})` : '');
  const pairs = e.values.map((v) => `${e.values.length > 1 ? `${v.name} ` : ''}${v.dense.toFixed(decimals(v.dense))} → ${v.pruned.toFixed(decimals(v.dense))}${change(v)}`).join(', ');
  return e.metric === 'rmse'
    ? `test RMSE, in the target${e.values.length > 1 ? 's\'' : '\'s'} units: ${pairs} (dense → pruned)`
    : `test MSE per output value: ${pairs} (dense → pruned)`;
}

/** The frontier table of a --targets run: one line per target. */
function frontierLines(report: RunReport, fmt: (v: number) => string): string {
  if (!report.frontier) return '';
  const metric = report.task?.metric ?? 'accuracy';
  const flops = report.config.objective === 'flops';
  const rows = report.frontier.map((r) => (r.reached && r.sparsity != null
    ? `    ${pct(r.target)}: ${flops && r.compute ? `${pct(r.compute.reduction, 2)} of the prunable kernels' compute removed${r.compute.allKernels ? ` (${pct(r.compute.allKernels.reduction, 2)} of every kernel's)` : ''}, ` : ''}sparsity ${pct(r.sparsity, 2)} (${pct(r.sparsityOfAllParams ?? 0, 2)} of all parameters), test ${metric} ${fmt(r.testAccuracy ?? NaN)}, after ${r.fineTuneSteps} fine-tune steps${r.beyond ? ` (beyond the target: ${r.beyond})` : ''}${r.path ? ` → ${r.path}` : report.polish && !report.polish.kept ? ` (the final model: the run's steps, its undone polish's ${report.polish.steps} included)` : ' (the final model)'}`
    : r.target === report.config.target
      ? `    ${pct(r.target)}: not reached; the final model stopped at ${flops && report.final.compute ? `${pct(report.final.compute.reduction, 2)} of the prunable kernels' compute removed` : `sparsity ${pct(report.final.sparsity, 2)}`}`
      : `    ${pct(r.target)}: not reached (the run stopped, or jumped past it, before a step landed on or crossed it)`));
  return `  frontier (test ${metric}, dense ${fmt(report.dense.testAccuracy)}):\n${rows.join('\n')}\n`;
}

/** The columns a standardization feeds as 0 (constant over the training rows: std 0), for the console's line. */
function constantNote(st: { columns: string[]; std: number[] }): string {
  const constant = st.columns.filter((_, j) => st.std[j] === 0);
  if (!constant.length) return '';
  const names = constant.slice(0, 5).map((c) => `'${c}'`).join(', ') + (constant.length > 5 ? `, … (${constant.length} columns)` : '');
  return ` (std 0: ${names} ${constant.length === 1 ? 'is' : 'are'} constant over the training rows and fed as 0, whatever the value)`;
}

/** Two figures compared on one line, with enough decimals (2 to 4) that the larger does not print equal to the smaller. */
function twoNumbers(a: number, b: number): [string, string] {
  const d = decimalsApart(a, b, 2);
  return [a.toFixed(d), b.toFixed(d)];
}

/**
 * A loss for the progress lines: four decimals, or three significant digits below 0.001 (a new user's autoencoder
 * polished for ten rounds of "0.0001" while the budget was extended as "still improving").
 */
export function lossText(v: number): string {
  return Math.abs(v) >= 0.001 || v === 0 || !Number.isFinite(v) ? v.toFixed(4) : v.toPrecision(3);
}

/** The measured predict times, and what they mean where the compact model is not measurably faster. */
export function latencyLine(l: CompactLatency, smaller = true): string {
  const x = l.denseMs / Math.max(1e-9, l.compactMs);
  const why = !smaller
    ? ': no unit was removed, so the compact model has the pruned model\'s shape and its time (tfjs has no sparse kernels)'
    : x >= 1.1 && speedUpInNoise(l)
      ? ` — not clearly faster: some turns found the compact model no faster, so the machine's load moved the timing more than pruning did; ` +
        `time it again on an idle machine (autoprune compact <out>) before counting on it; fewer parameters and a smaller file remain`
    : x < 1.1
      ? `: not measurably faster at ${l.batch} samples a call — its time goes elsewhere than to the multiply-accumulates removed (per-call and per-layer overhead, ` +
        `which weighs less in larger calls); fewer parameters and a smaller file remain${l.batch < 128 ? '; served in larger batches, time it there: autoprune compact <out> --serving-batch 256' : ''}`
      : '';
  return `predict time measured here (${l.batch} samples a call, median of ${l.runs} calls each in alternating turns, this machine's default threads): ` +
    `pruned at full shape${l.sameRewrites ? ' (with the compact model\'s serving rewrites)' : ''} ${l.denseMs.toFixed(2)} ms → compact ${l.compactMs.toFixed(2)} ms (${speedUpText(l)})${why}`;
}
