import type * as TF from '@tensorflow/tfjs';
import { disposeSplit, headOf, type Dataset } from '../data/dataset.js';
import { extractFeatures } from '../features/extract.js';
import { accuracy, teacherTargets, train, trainAsync, type TrainOptions } from '../models/train.js';
import { gradualLevels } from '../agent/loop.js';
import type { Scorer } from '../policy/types.js';
import { PrunableModel } from '../pruning/prunable-model.js';
import { pruneByScores } from '../pruning/select.js';

export interface OneShotOptions {
  target: number;
  /** Fine-tuning epochs after pruning (fixed, no early stopping: the protocol's equal budget). Default 5. */
  fineTuneEpochs?: number;
  /** Seed of the fine-tuning batch order (the same for every method of a comparison). */
  seed?: number;
  /** Samples of the training split used for features. Default 1024. */
  calibrationSamples?: number;
  /**
   * Fine-tuning settings instead of the protocol's fixed epochs (e.g. the small-data suite's optimizer steps,
   * batch size and validation rounds). `val` here means the dataset's validation split is used.
   */
  fineTune?: Omit<TrainOptions, 'prunable' | 'val' | 'seed'> & { val?: boolean };
}

export interface OneShotResult {
  sparsity: number;
  /** Test accuracy right after pruning, before fine-tuning. */
  testBefore: number;
  /** Test accuracy after fine-tuning. */
  testAfter: number;
  valAfter: number;
  fineTuneEpochs: number;
  layerSparsity: number[];
  seconds: { features: number; scoring: number; prune: number; fineTune: number };
}

/**
 * One-shot pruning as in the benchmark protocol: features of the dense model → scores → prune to the
 * target in one go → fine-tune a fixed number of epochs with masks enforced. Modifies `model`.
 */
export function oneShot(model: TF.LayersModel, data: Dataset, scorer: Scorer, o: OneShotOptions): OneShotResult {
  const epochs = o.fineTuneEpochs ?? 5;
  const pm = new PrunableModel(model);
  const calib = headOf(data.train, o.calibrationSamples ?? 1024);
  try {
    let t = Date.now();
    const feats = extractFeatures(pm, calib);
    const features = (Date.now() - t) / 1000;
    t = Date.now();
    const scores = scorer.score(feats);
    const scoring = (Date.now() - t) / 1000;
    t = Date.now();
    pruneByScores(pm, scores, feats, o.target);
    const prune = (Date.now() - t) / 1000;
    const testBefore = accuracy(model, data.test);
    const { val, ...ft } = o.fineTune ?? {};
    const r = epochs > 0 || o.fineTune
      ? train(model, data.train, { epochs, ...ft, ...(val ? { val: data.val } : {}), prunable: pm, seed: o.seed ?? 0 })
      : { seconds: 0, epochsRun: 0 };
    const s = pm.sparsity();
    return {
      sparsity: s.global, testBefore, testAfter: accuracy(model, data.test), valAfter: accuracy(model, data.val),
      fineTuneEpochs: r.epochsRun, layerSparsity: s.layers.map((l) => l.sparsity),
      seconds: { features, scoring, prune, fineTune: r.seconds },
    };
  } finally {
    disposeSplit(calib);
    pm.dispose();
  }
}

/** Increments of the gradual baseline (Zhu & Gupta prune every ~1/10 of the pruning span). */
export const GRADUAL_INCREMENTS = 10;

/**
 * Gradual pruning (Zhu & Gupta, 2017), the baseline the agent must beat at equal budget: `fineTuneEpochs` of
 * masked fine-tuning (batch 128, Adam 1e-3, no early stopping), during whose first 70 % the model is pruned in
 * GRADUAL_INCREMENTS re-scored increments on the cubic schedule to `target`; the rest fine-tunes at the target.
 * Modifies `model`.
 */
export async function gradualPrune(model: TF.LayersModel, data: Dataset, scorer: Scorer, o: {
  target: number; fineTuneEpochs: number; seed?: number; calibrationSamples?: number;
  /** Distillation from the model as given (as the agent's AgentOptions.distill). Default: none. */
  distill?: { weight: number; temperature: number };
  /**
   * A fine-tuning recipe judged on the validation split (the agent's polish: rounds of `roundSteps`, the learning rate
   * × `lrDecay` on a round without a new best, `tieZ`, the best round kept), from the schedule's last increment on.
   * Default: none (constant learning rate, last weights, as Zhu & Gupta).
   */
  recipe?: { roundSteps: number; lrDecay: number; patience: number; tieZ?: number };
}): Promise<OneShotResult> {
  const pm = new PrunableModel(model);
  const calib = headOf(data.train, o.calibrationSamples ?? 1024);
  const teacher = o.distill ? teacherTargets(model, data.train.x, o.distill.temperature) : undefined;
  const seconds = { features: 0, scoring: 0, prune: 0, fineTune: 0 };
  try {
    const steps = Math.round(o.fineTuneEpochs * Math.ceil(data.train.labels.length / 128));
    const span = Math.floor(0.7 * steps);
    const levels = gradualLevels(0, o.target, GRADUAL_INCREMENTS);
    const pruneTo = (s: number) => {
      let t = Date.now();
      const feats = extractFeatures(pm, calib);
      seconds.features += (Date.now() - t) / 1000;
      t = Date.now();
      const scores = scorer.score(feats);
      seconds.scoring += (Date.now() - t) / 1000;
      t = Date.now();
      pruneByScores(pm, scores, feats, s);
      seconds.prune += (Date.now() - t) / 1000;
    };
    const schedule = levels.map((s, j) => ({ at: Math.round((j * span) / (levels.length - 1)), run: () => pruneTo(s) }));
    const softTargets = teacher && o.distill ? { probs: teacher, weight: o.distill.weight } : undefined;
    const r = await trainAsync(model, data.train, { steps, batchSize: 128, prunable: pm, seed: o.seed ?? 0, schedule, softTargets, ...(o.recipe ? { val: data.val, ...o.recipe } : {}) });
    seconds.fineTune = r.seconds - seconds.features - seconds.scoring - seconds.prune;
    const s = pm.sparsity();
    return {
      sparsity: s.global, testBefore: NaN, testAfter: accuracy(model, data.test), valAfter: accuracy(model, data.val),
      fineTuneEpochs: o.fineTuneEpochs, layerSparsity: s.layers.map((l) => l.sparsity), seconds,
    };
  } finally {
    teacher?.dispose();
    disposeSplit(calib);
    pm.dispose();
  }
}
