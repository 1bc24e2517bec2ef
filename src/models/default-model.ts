import type { Dataset } from '../data/dataset.js';
import { resolveBudget } from '../agent/budget.js';
import { LENET_300_100, type MlpArgs } from './families.js';

/**
 * The model autoprune trains when the user gives data but no model: LeNet-300-100 for the built-in
 * MNIST, otherwise a two-hidden-layer ReLU MLP sized to the data (so `--data my.csv` alone works).
 */
export function defaultModelArgs(data: Dataset, seed: number): MlpArgs {
  if (data.name === 'mnist-10k') return { ...LENET_300_100, seed };
  const d = data.inputShape.reduce((a, b) => a * b, 1);
  const h1 = Math.max(16, Math.min(256, 4 * d));
  return {
    family: 'mlp', inputShape: data.inputShape, hidden: [h1, Math.max(8, h1 >> 1)], activation: 'relu',
    numClasses: data.numClasses, binaryOutput: data.numClasses === 2, seed,
  };
}

/** How a built-in model's name ends (report.json `config.model`): trained by autoprune on the run's own training rows. */
const BUILT_IN = ' (built-in, trained on the data and cached)';

export function describeArgs(a: MlpArgs): string {
  return a.hidden.join('-') === '300-100' && a.inputShape[0] === 784 ? `LeNet-300-100${BUILT_IN}`
    : `mlp ${a.inputShape}-${a.hidden.join('-')}-${a.binaryOutput ? 1 : a.numClasses}${BUILT_IN}`;
}

/** Whether report.json's `config.model` names a built-in model (describeArgs), whose test rows it never trained on. */
export function isBuiltInModel(name: string): boolean {
  return name.endsWith(BUILT_IN);
}

/**
 * How the built-in model is trained on a user's data: the default fine-tuning budget's rule (optimizer steps from the
 * data's size, at least 900; batch size from it; validation rounds of at least 50 steps), so that a small table gets
 * enough steps — 15 epochs at batch 128 are 15 optimizer steps on 40 rows, a model worse than chance. MNIST-10k keeps
 * the benchmark protocol's 15 epochs at batch 128 (undefined: TRAIN_DEFAULTS), its cached model unchanged.
 */
export function defaultModelTraining(data: Dataset): { steps: number; batchSize: number; roundSteps: number } | undefined {
  if (data.name === 'mnist-10k') return undefined;
  const b = resolveBudget(data.train.x.shape[0], {});
  return { steps: b.budgetSteps, batchSize: b.batchSize, roundSteps: b.roundSteps };
}
