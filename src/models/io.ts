import type * as TF from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tf } from '../backend/tf.js';
import { ModelError } from '../errors.js';

/**
 * Loads a tfjs LayersModel from `model.json` (or a folder holding one). Errors name the file and
 * what is wrong. The files are only read, never written.
 */
export async function loadModel(path: string): Promise<TF.LayersModel> {
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'model.json');
  if (!existsSync(file)) throw new ModelError(`model file '${path}' does not exist`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelError(`model file '${path}' is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const j = json as { modelTopology?: unknown; weightsManifest?: { paths: string[] }[] };
  if (!j || typeof j !== 'object' || !j.modelTopology) {
    throw new ModelError(`model file '${path}' is not a tfjs LayersModel (no modelTopology); convert it with tensorflowjs_converter --output_format tfjs_layers_model`);
  }
  for (const group of j.weightsManifest ?? []) {
    for (const p of group.paths) {
      if (!existsSync(join(dirname(file), p))) throw new ModelError(`model '${path}' refers to weights file '${p}', which is missing`);
    }
  }
  try {
    return await tf.loadLayersModel(`file://${file}`);
  } catch (err) {
    throw new ModelError(`cannot load model '${path}': ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Saves a model in tfjs format (model.json + weights.bin) atomically: temp folder, then rename. */
export async function saveModel(model: TF.LayersModel, dir: string): Promise<void> {
  const target = resolve(dir);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(dirname(target), { recursive: true });
  try {
    await model.save(`file://${tmp}`);
    rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Number of parameters of a model (all weights). */
export function countParams(model: TF.LayersModel): number {
  return model.weights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
}
