import { UsageError } from './errors.js';
import 'reflect-metadata';
import { Container, injectable } from 'inversify';
import type { Dataset, Split } from './data/dataset.js';
import type { ClassWeights } from './data/class-weight.js';
import { loadDataset, type LoadDatasetOptions } from './data/registry.js';
import type { LayerFeatures } from './features/types.js';
import { extractFeatures, extractScored, type LayerScoring } from './features/extract.js';
import { FEATURE_SCHEMA } from './features/schema.js';
import { trainedModel } from './models/cache.js';
import { defaultModelArgs, defaultModelTraining, describeArgs } from './models/default-model.js';
import { TRAIN_DEFAULTS } from './models/train.js';
import { loadModel } from './models/io.js';
import { createScorer, SCORERS } from './policy/baselines.js';
import { parsePolicySpec, resolvePolicyPath, resolveScorer } from './policy/io.js';
import type { Policy } from './policy/policy.js';
import type { PrunableModel } from './pruning/prunable-model.js';
import { PruneService } from './prune-service.js';
import { writeOutputsAtomically, type OutputFile } from './report/write.js';
import type { DataSource, FeatureExtractor, LoadedModel, ModelSource, OutputWriter, PolicySource, ResolvedPolicy } from './services.js';
import { TOKENS } from './types.js';

@injectable()
export class RegistryDataSource implements DataSource {
  load(spec: string, options?: LoadDatasetOptions): Dataset {
    return loadDataset(spec, options);
  }
}

@injectable()
export class FileOrDefaultModelSource implements ModelSource {
  async load(spec: string | undefined, data: Dataset | undefined, options: { seed?: number; onEpoch?: (e: { epoch: number; loss: number; epochs?: number; steps?: number }) => void; signal?: AbortSignal; classWeight?: ClassWeights } = {}): Promise<LoadedModel> {
    if (spec) return { model: await loadModel(spec), label: spec, dir: spec };
    if (!data) throw new UsageError('the built-in default model is trained on the data: load the data first');
    const args = defaultModelArgs(data, options.seed ?? 0);
    const train = defaultModelTraining(data);
    const rounds = train ? Math.ceil(train.steps / train.roundSteps) : TRAIN_DEFAULTS.epochs;
    const onEpoch = options.onEpoch && ((e: { epoch: number; loss: number }) => options.onEpoch!({ ...e, epochs: rounds, ...(train ? { steps: train.steps } : {}) }));
    // The built-in model trains with the run's class weights, as a user's model given them was trained.
    const cached = await trainedModel({ args, ...(train ? { train } : {}), ...(options.classWeight ? { classWeight: options.classWeight } : {}) }, data, onEpoch, options.signal);
    return { model: cached.model, label: describeArgs(args), dir: cached.dir };
  }
}

@injectable()
export class PolicyRegistrySource implements PolicySource {
  resolve(spec: string): ResolvedPolicy {
    if (Object.hasOwn(SCORERS, spec)) return { scorer: createScorer(spec), kind: 'baseline' };
    const scorer = resolveScorer(spec);
    const kind = (scorer as Partial<Policy>).kind;
    if (kind) return { scorer, kind, file: resolvePolicyPath(spec) };
    // A combination ('default@0.25+lamp') is no one file: each part is named with its kind and file.
    const parts = parsePolicySpec(spec);
    const part = (name: string, role: 'order' | 'prior') => {
      const { kind: k, file } = this.resolve(name);
      return { role, name, kind: k, ...(file ? { file } : {}) };
    };
    return {
      scorer, kind: 'combined',
      ...(parts ? { parts: [part(parts.own, 'order'), part(parts.prior, 'prior')], ...(parts.weight !== undefined ? { weight: parts.weight } : {}) } : {}),
    };
  }
}

@injectable()
export class TensorFeatureExtractor implements FeatureExtractor {
  readonly schema = FEATURE_SCHEMA;
  readonly stagedScoring = true;

  extract(pm: PrunableModel, calib: Split) {
    return extractFeatures(pm, calib);
  }

  extractScored(pm: PrunableModel, calib: Split, score: ((layer: LayerFeatures) => Float32Array) & Partial<LayerScoring>) {
    return extractScored(pm, calib, score, { chunk: score.chunk, needs: score.needs });
  }
}

@injectable()
export class AtomicOutputWriter implements OutputWriter {
  async write(outDir: string, files: OutputFile[], options: { overwrite: boolean; foreign?: (dir: string) => string[] }): Promise<void> {
    await writeOutputsAtomically(outDir, files, options);
  }
}

/**
 * The composition root: the one place that binds tokens to implementations. Tests and integrations
 * call `container.rebind(TOKENS.X)` to substitute a piece (e.g. a data source reading a feature store).
 */
export function createContainer(): Container {
  const c = new Container({ defaultScope: 'Singleton' });
  c.bind<DataSource>(TOKENS.DataSource).to(RegistryDataSource);
  c.bind<ModelSource>(TOKENS.ModelSource).to(FileOrDefaultModelSource);
  c.bind<PolicySource>(TOKENS.PolicySource).to(PolicyRegistrySource);
  c.bind<FeatureExtractor>(TOKENS.FeatureExtractor).to(TensorFeatureExtractor);
  c.bind<OutputWriter>(TOKENS.OutputWriter).to(AtomicOutputWriter);
  c.bind<PruneService>(TOKENS.Pruner).to(PruneService);
  return c;
}
