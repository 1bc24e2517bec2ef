import type * as TF from '@tensorflow/tfjs';
import type { Dataset, Split } from './data/dataset.js';
import type { ClassWeights } from './data/class-weight.js';
import type { LoadDatasetOptions } from './data/registry.js';
import type { ConnectionFeatures, FeatureSchema, LayerFeatures } from './features/types.js';
import type { LayerScoring } from './features/extract.js';
import type { PrunableModel } from './pruning/prunable-model.js';
import type { Scorer } from './policy/types.js';

/** Where datasets come from (built-in names, CSV paths, or anything an integration binds). */
export interface DataSource {
  load(spec: string, options?: LoadDatasetOptions): Dataset;
}

/** A model and what to call it in reports. */
export interface LoadedModel {
  model: TF.LayersModel;
  /** Path, or a description of the built-in default. */
  label: string;
  /** Folder of the model (for masks saved beside it). */
  dir?: string;
}

/** Where models come from: a model.json path, or the built-in default trained (and cached) on the data. */
export interface ModelSource {
  /** `signal` interrupts the training of the built-in default model (Ctrl-C). */
  load(spec: string | undefined, data: Dataset | undefined, options?: { seed?: number; onEpoch?: (e: { epoch: number; loss: number; epochs?: number; steps?: number }) => void; signal?: AbortSignal; classWeight?: ClassWeights }): Promise<LoadedModel>;
}

/** Resolves a policy name / file to a scorer. */
/** A policy as resolved from its name or file: the scorer, what it is and where it came from. */
export interface ResolvedPolicy {
  scorer: Scorer;
  kind: string;
  file?: string;
  /** An 'X@a+Y' / 'X+Y' combination: X (the order inside each layer) and Y (the prior, whose allocation is kept). */
  parts?: { role: 'order' | 'prior'; name: string; kind: string; file?: string }[];
  /** X's weight a of an 'X@a+Y' combination. */
  weight?: number;
}

export interface PolicySource {
  resolve(spec: string): ResolvedPolicy;
}

/** Per-connection feature extraction. */
export interface FeatureExtractor {
  /** The feature columns it produces, where known before extracting (a policy of another schema is then refused up front). */
  readonly schema?: FeatureSchema;
  extract(pm: PrunableModel, calib: Split): ConnectionFeatures;
  /**
   * Optional, for large models: features handed to `score` one layer (or, where `score.chunk` allows, one
   * chunk of a layer's connections) at a time and dropped; returns the
   * scores and the features without columns. The agent uses it when present, else `extract`.
   */
  extractScored?(pm: PrunableModel, calib: Split, score: ((layer: LayerFeatures) => Float32Array) & Partial<Omit<LayerScoring, 'finish'>> & { finish?: LayerScoring['finish'] }): { features: ConnectionFeatures; scores: Float32Array[] };
  /**
   * True where `extractScored` also runs a staged scorer's second stage (`score.finish`, features/extract.ts LayerScoring:
   * each layer's row scores and its `finish.needs` columns, after its chunks), as autoprune's own extractor does. Where
   * absent, the agent hands such a scorer (`X@a+Y`) to `extractScored` whole, one layer at a time: an extractor that
   * does not know the second stage still gets right scores, a large layer's every column at once. (A subclass of
   * autoprune's TensorFeatureExtractor inherits it: one that overrides extractScored must run `score.finish` too, or
   * set it false.)
   */
  readonly stagedScoring?: boolean;
}

import type { OutputFile } from './report/write.js';
export type { OutputFile };

/** Writes a run's outputs (atomically: all or nothing). */
export interface OutputWriter {
  /** `foreign`: entries of an existing folder that are not autoprune's, found again right before it is replaced (see writeOutputsAtomically). */
  write(outDir: string, files: OutputFile[], options: { overwrite: boolean; foreign?: (dir: string) => string[] }): Promise<void>;
}
