/**
 * Batch sizes for whole-split forward passes that bound the memory of the activations, not only the rows.
 * A forward pass holds (up to) every layer's output for every row of its batch: 4 bytes per float on the
 * host (tfjs-node's CPU tensors). An MLP's row is a few thousand floats, but a convolutional backbone's is
 * millions (a MobileNet-v1 at 128×128 inputs: ~3.4 M floats, 13 MB per row): 640 rows in one batch peaked at
 * 5.1 GB for the outputs alone and BatchNormalization re-estimation at 256 rows at 9 GB (measured,
 * docs/benchmarks.md "Scale"). These helpers keep a batch's activations under a fixed budget; models whose
 * row is small keep the callers' batch sizes exactly (every MNIST and small-table model of the benchmarks),
 * so their figures do not move.
 */
import type * as TF from '@tensorflow/tfjs';

/** Floats of activations one batch of a forward pass may hold (2^27 = 128 M floats, 512 MB). */
export const ACTIVATION_BUDGET_FLOATS = 2 ** 27;

const perSampleCache = new WeakMap<TF.LayersModel, number>();

/** Product of a shape's dimensions after the batch axis (unknown dimensions count 1). */
function rowSize(shape: readonly (number | null)[]): number {
  let n = 1;
  for (let i = 1; i < shape.length; i++) n *= shape[i] ?? 1;
  return n;
}

/**
 * Floats of every layer's output for one row (layers of nested models included): an upper bound on what a
 * forward pass holds per row. Layers whose output shape cannot be read count nothing.
 */
export function activationsPerSample(model: TF.LayersModel): number {
  const cached = perSampleCache.get(model);
  if (cached !== undefined) return cached;
  const total = activationsOf(model).total;
  perSampleCache.set(model, total);
  return total;
}

/** activationsPerSample, and the layer whose output is the largest part of it (its name and floats per row). */
export function activationsOf(model: TF.LayersModel): { total: number; largest?: { layer: string; floats: number } } {
  let total = 0;
  let largest: { layer: string; floats: number } | undefined;
  const visit = (m: TF.LayersModel) => {
    for (const layer of m.layers) {
      const inner = layer as unknown as Partial<TF.LayersModel>;
      if (Array.isArray(inner.layers)) {
        visit(inner as TF.LayersModel);
        continue;
      }
      // Every call's outputs: a layer called more than once (shared) has one output per call and no single outputShape.
      const shapes = layer.inboundNodes.flatMap((n) => {
        const s = n.outputShapes as unknown;
        return Array.isArray(s) ? (Array.isArray(s[0]) ? s : [s]) as (number | null)[][] : [];
      });
      const floats = shapes.reduce((a, s) => a + rowSize(s), 0);
      if (!(floats > 0)) continue;
      total += floats;
      if (!largest || floats > largest.floats) largest = { layer: layer.name, floats };
    }
  };
  visit(model);
  return { total, ...(largest ? { largest } : {}) };
}

/**
 * At most `cap` rows, and few enough that their activations fit `budget` floats (`factor` > 1 where a pass
 * holds more than one copy, e.g. training mode or a backward pass). At least 1.
 */
export function activationBatch(model: TF.LayersModel, cap: number, factor = 1, budget = ACTIVATION_BUDGET_FLOATS): number {
  const perRow = activationsPerSample(model) * factor;
  if (!(perRow > 0)) return cap;
  return Math.max(1, Math.min(cap, Math.floor(budget / perRow)));
}
