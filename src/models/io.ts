import type * as TF from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tf } from '../backend/tf.js';
import { ModelError } from '../errors.js';
import { VERSION } from '../version.js';

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

/** A model's artifacts (topology + weights) in memory. */
export async function modelArtifacts(model: TF.LayersModel): Promise<TF.io.ModelArtifacts> {
  let artifacts: TF.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return artifacts!;
}

/** One file of a tfjs model folder, in memory. */
export interface ModelFile {
  relPath: string;
  data: string | Uint8Array;
}

/** The tfjs files of a model (`${prefix}model.json` + `${prefix}weights.bin`), in memory, for atomic writing. */
export async function modelFiles(model: TF.LayersModel, prefix = ''): Promise<ModelFile[]> {
  const a = await modelArtifacts(model);
  const wd = a.weightData as ArrayBuffer | ArrayBuffer[];
  const weights = Array.isArray(wd) ? tf.io.concatenateArrayBuffers(wd) : wd;
  const json = {
    modelTopology: a.modelTopology, format: 'layers-model', generatedBy: `autoprune ${VERSION}`, convertedBy: null,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  return [
    { relPath: `${prefix}model.json`, data: JSON.stringify(json) },
    { relPath: `${prefix}weights.bin`, data: new Uint8Array(weights) },
  ];
}

/** A deep copy of a model (topology and weights), so the caller's model is never modified. */
export async function cloneModel(model: TF.LayersModel): Promise<TF.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(await modelArtifacts(model)));
}
