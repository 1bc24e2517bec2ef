import 'reflect-metadata';
import type * as TF from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { runAgent, type AgentResult } from './agent/loop.js';
import { checkGranularity, checkObjective, type Granularity } from './agent/granularity.js';
import type { Objective } from './pruning/prunable-model.js';
import { Checkpointer } from './agent/checkpoint.js';
import type { AgentEvent } from './agent/events.js';
import { backendInfo } from './backend/tf.js';
import type { Dataset } from './data/dataset.js';
import { isCsvPath } from './data/registry.js';
import { UsageError } from './errors.js';
import { cloneModel, countParams, modelFiles } from './models/io.js';
import { fitDatasetToModel } from './models/task.js';
import { TRAIN_DEFAULTS } from './models/train.js';
import { masksToJson } from './pruning/mask-io.js';
import type { RunReport } from './report/report.js';
import { renderReportHtml } from './report/html.js';
import type { DataSource, FeatureExtractor, LoadedModel, ModelSource, OutputFile, OutputWriter, PolicySource } from './services.js';
import type { Scorer } from './policy/types.js';
import { TOKENS } from './types.js';
import { VERSION } from './version.js';

/** Options of one pruning run (the CLI's flags, typed). */
export interface AutopruneOptions {
  /** Target global sparsity in (0, 1): the fraction of Dense/Conv2D kernel weights to remove. */
  target: number;
  /** A model.json path or folder, or a LayersModel (not modified). Default: LeNet-300-100 trained on the data (cached). */
  model?: string | TF.LayersModel;
  /** 'mnist-10k' (default), 'synthetic', a .csv path, or a Dataset. */
  data?: string | Dataset;
  /** CSV label column (name or 0-based index). Default: last column. */
  label?: string;
  /** CSV: [train, val, test] fractions of `data` (seeded, stratified). Default [0.8, 0.1, 0.1]; parts with their own file are not split off. */
  split?: readonly [number, number, number];
  /** CSV: a separate validation file with the same columns as `data`. */
  valData?: string;
  /** CSV: a separate test file with the same columns as `data`. */
  testData?: string;
  /**
   * CSV: z-score each feature with the training split's mean and standard deviation. Default: true for
   * the built-in default model (trained here on standardised features), false for your `model`, which
   * gets the values as they are in the file, as it was presumably trained.
   */
  standardize?: boolean;
  /** Largest accepted validation-accuracy drop in percentage points. Default 1. */
  maxDrop?: number;
  /** Policy name ('default', a baseline such as 'global-magnitude') or a policy file, or a Scorer. Default 'default'. */
  policy?: string | Scorer;
  /** Reach the target even if the guard cannot be held. Default false. */
  force?: boolean;
  /** Seed of data shuffling and fine-tuning. Default 0. */
  seed?: number;
  /** Total fine-tuning budget in epochs. Default 15. */
  budgetEpochs?: number;
  /** What a step removes: 'connection' (default; 'unit' with objective 'flops'), 'unit' (whole units/filters) or 'hierarchical'. */
  granularity?: Granularity;
  /**
   * What `target` counts: 'params' (fraction of prunable weights, default) or 'flops' (fraction of their
   * multiply-accumulates, i.e. compute a compacted model saves; needs granularity 'unit').
   */
  objective?: Objective;
  /** Also write a physically compacted model (compact/) and sparse files (model.sparse, model.int8.sparse) into `out`. */
  compact?: boolean;
  /** Output folder. When unset, nothing is written (library use) unless the CLI sets it. */
  out?: string;
  /** Replace an existing output folder. Default false. */
  overwrite?: boolean;
  /** Continue from the checkpoint of an interrupted run with the same `out`. */
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: AgentEvent) => void;
}

export interface AutopruneResult {
  /** The pruned model (pruned weights exactly 0). Dispose it when done. */
  model: TF.LayersModel;
  report: RunReport;
  /** Where outputs were written, if `out` was set. */
  outDir?: string;
}

/** Checkpoint folder of a run writing to `out` (a hidden sibling, so `out` only ever appears complete). */
export function checkpointDirFor(out: string): string {
  const abs = resolve(out);
  return join(dirname(abs), `.${basename(abs)}.checkpoint`);
}

function nonEmptyDir(p: string): boolean {
  return existsSync(p) && (!statSync(p).isDirectory() || readdirSync(p).length > 0);
}

/**
 * Validates the output folder before any work starts, so a long run never fails at its last step. `inputs`
 * (the model's folder, data files) must not be the folder or inside it: replacing it would delete them.
 */
export function checkOutDir(out: string, overwrite: boolean, resume: boolean, inputs: { what: string; path: string }[] = []): void {
  const abs = resolve(out);
  for (const input of inputs) {
    const p = resolve(input.path);
    if (p === abs || p.startsWith(abs + sep)) {
      throw new UsageError(`output folder '${out}' holds the ${input.what} '${input.path}', which writing the outputs would delete; choose another --out`);
    }
  }
  if (nonEmptyDir(abs) && !overwrite && !(resume && new Checkpointer(checkpointDirFor(abs)).exists())) {
    throw new UsageError(`output folder '${out}' already exists; pass --overwrite or choose another --out`);
  }
  let parent = dirname(abs);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new UsageError(`cannot write output folder '${out}': '${parent}' is not a folder`);
}

/** The files a run reads that an output folder must never hold: the model's folder and data files. */
function inputsOf(opts: AutopruneOptions): { what: string; path: string }[] {
  const inputs: { what: string; path: string }[] = [];
  if (typeof opts.model === 'string') {
    const m = resolve(opts.model);
    inputs.push({ what: 'input model', path: existsSync(m) && statSync(m).isDirectory() ? m : dirname(m) });
  }
  if (typeof opts.data === 'string' && existsSync(opts.data)) inputs.push({ what: 'data file', path: opts.data });
  if (opts.valData) inputs.push({ what: 'validation file', path: opts.valData });
  if (opts.testData) inputs.push({ what: 'test file', path: opts.testData });
  return inputs;
}

@injectable()
export class PruneService {
  constructor(
    @inject(TOKENS.DataSource) private readonly dataSource: DataSource,
    @inject(TOKENS.ModelSource) private readonly modelSource: ModelSource,
    @inject(TOKENS.PolicySource) private readonly policySource: PolicySource,
    @inject(TOKENS.FeatureExtractor) private readonly extractor: FeatureExtractor,
    @inject(TOKENS.OutputWriter) private readonly writer: OutputWriter,
  ) {}

  async run(opts: AutopruneOptions): Promise<AutopruneResult> {
    const t0 = Date.now();
    const phases: Record<string, number> = {};
    const seed = opts.seed ?? 0;
    const maxDrop = opts.maxDrop ?? 1;
    const policySpec = opts.policy ?? 'default';
    const granularity = checkGranularity(opts.granularity ?? (opts.objective === 'flops' ? 'unit' : 'connection'));
    const objective = checkObjective(opts.objective ?? 'params', granularity);
    if (opts.out) checkOutDir(opts.out, opts.overwrite ?? false, opts.resume ?? false, inputsOf(opts));
    if (opts.resume && !opts.out) throw new UsageError('--resume needs the --out folder of the interrupted run');
    const backend = backendInfo();

    // Resolve everything that can fail on bad input before any training starts.
    const policy = typeof policySpec === 'string'
      ? { ...this.policySource.resolve(policySpec), name: policySpec }
      : { scorer: policySpec, kind: policySpec.name, name: policySpec.name, file: undefined };
    const dataSpec = opts.data ?? 'mnist-10k';
    const tLoad = Date.now();
    const ownsData = typeof dataSpec === 'string';
    const standardize = opts.standardize ?? (typeof dataSpec === 'string' && isCsvPath(dataSpec) ? opts.model == null : undefined);
    const data = typeof dataSpec === 'string' ? this.dataSource.load(dataSpec, {
      seed, label: opts.label, split: opts.split, valPath: opts.valData, testPath: opts.testData, standardize,
    }) : dataSpec;
    let loaded: LoadedModel | undefined;
    let fitted: Dataset | undefined;
    try {
      loaded = typeof opts.model === 'object'
        ? { model: await cloneModel(opts.model), label: opts.model.name }
        : await this.modelSource.load(opts.model, data, {
          seed, onEpoch: (e) => opts.onEvent?.({ type: 'epoch', phase: 'dense', epochs: TRAIN_DEFAULTS.epochs, step: 0, epoch: e.epoch, loss: e.loss }),
        });
      fitted = fitDatasetToModel(data, loaded.model);
      phases.load = (Date.now() - tLoad) / 1000;
      const model = loaded.model;
      const params = countParams(model);
      const ckptDir = opts.out ? checkpointDirFor(opts.out) : undefined;
      if (opts.resume && ckptDir && !new Checkpointer(ckptDir).exists()) {
        throw new UsageError(`nothing to resume: no checkpoint for output folder '${opts.out}' (expected '${ckptDir}')`);
      }
      const result: AgentResult = await runAgent(model, fitted, policy.scorer, {
        target: opts.target, maxDrop, force: opts.force, seed, budgetEpochs: opts.budgetEpochs,
        checkpointDir: ckptDir, resume: opts.resume, signal: opts.signal, onEvent: opts.onEvent,
        extractor: this.extractor, backend: { name: backend.name, native: backend.native }, granularity, objective,
      });
      Object.assign(phases, result.phases);
      const report: RunReport = {
        format: 'autoprune-report', schemaVersion: 1, createdAt: new Date().toISOString(), autopruneVersion: VERSION,
        config: {
          target: opts.target, maxDrop, policy: policy.name, granularity, objective, seed,
          model: loaded.label, data: typeof dataSpec === 'string' ? dataSpec : dataSpec.name, force: opts.force ?? false,
          budgetEpochs: opts.budgetEpochs ?? 15, resumed: opts.resume ?? false,
          ...(opts.label != null ? { label: opts.label } : {}),
          ...(opts.split ? { split: [...opts.split] } : {}),
          ...(opts.valData ? { valData: opts.valData } : {}),
          ...(opts.testData ? { testData: opts.testData } : {}),
          ...(standardize != null ? { standardize } : {}),
        },
        samples: { train: fitted.train.labels.length, val: fitted.val.labels.length, test: fitted.test.labels.length },
        backend: { name: backend.tfBackend, native: backend.native, source: backend.source },
        policy: { name: policy.name, kind: policy.kind, file: policy.file },
        dense: { valAccuracy: result.denseValAccuracy, testAccuracy: result.denseTestAccuracy, params, prunable: result.sparsity.total },
        final: {
          valAccuracy: result.valAccuracy, testAccuracy: result.testAccuracy, sparsity: result.sparsity.global,
          compute: result.compute, targetReached: result.targetReached, stopReason: result.stopReason, exitCode: result.exitCode,
        },
        layers: result.sparsity.layers,
        steps: result.steps,
        totals: result.totals,
        phases,
      };
      if (opts.out) {
        const tw = Date.now();
        const files: OutputFile[] = [
          ...(await modelFiles(model, 'model/')),
          { relPath: 'masks.json', data: JSON.stringify(masksToJson(result.masks)) },
        ];
        phases.write = (Date.now() - tw) / 1000;
        phases.total = (Date.now() - t0) / 1000;
        files.push({ relPath: 'report.json', data: `${JSON.stringify(report, null, 2)}\n` });
        files.push({ relPath: 'report.html', data: await renderReportHtml(report) });
        await this.writer.write(opts.out, files, { overwrite: (opts.overwrite ?? false) || (opts.resume ?? false) });
        if (ckptDir) new Checkpointer(ckptDir).remove();
        if (opts.compact) {
          const { compactPruned } = await import('./cli/compact.js');
          const c = await compactPruned(opts.out, { out: opts.out, int8: true });
          opts.onEvent?.({
            type: 'compact', path: join(resolve(opts.out), 'compact'), paramsBefore: c.compact.paramsBefore, paramsAfter: c.compact.paramsAfter,
            unitsRemoved: c.compact.layers.map((l) => l.unitsBefore - l.unitsAfter), skipped: c.compact.skipped,
          });
        }
      } else {
        phases.total = (Date.now() - t0) / 1000;
      }
      result.masks.dispose();
      opts.onEvent?.({
        type: 'done', sparsity: report.final.sparsity, valAccuracy: report.final.valAccuracy, testAccuracy: report.final.testAccuracy,
        denseTestAccuracy: report.dense.testAccuracy, targetReached: report.final.targetReached, stopReason: report.final.stopReason, exitCode: report.final.exitCode,
        totalEpochs: report.totals.fineTuneEpochs, seconds: phases.total, out: opts.out ? resolve(opts.out) : undefined,
      });
      return { model, report, outDir: opts.out ? resolve(opts.out) : undefined };
    } catch (err) {
      loaded?.model.dispose();
      throw err;
    } finally {
      if (fitted && fitted !== data) fitted.dispose();
      if (ownsData) data.dispose();
    }
  }
}
