import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../src/backend/tf.js';
import type { Dataset } from '../src/data/dataset.js';
import { loadMnist10k } from '../src/data/mnist.js';
import { loadDataset, type LoadDatasetOptions } from '../src/data/registry.js';
import { runAgent, type AgentOptions, type AgentResult } from '../src/agent/loop.js';
import type { AgentEvent } from '../src/agent/events.js';
import { smallCasePaths } from '../src/bench/small-suite.js';
import { loadModel } from '../src/models/io.js';
import { fitDatasetToModel } from '../src/models/task.js';
import { loadPolicy } from '../src/policy/io.js';

export { removeTempDirs, tempDir } from './temp.js';

/** A small, real MNIST subset (first `perDigit` of each split per digit) for fast tests. */
export function smallMnist(perDigit = 40, seed = 0): Dataset {
  return loadMnist10k({ limitPerDigit: perDigit, seed });
}

export function numTensors(): number {
  return tf.memory().numTensors;
}

/** Runs `fn` on a freshly loaded dataset and disposes it afterwards, whatever `fn` does. */
export function withDataset<T>(d: Dataset, fn: (d: Dataset) => T): T {
  try {
    return fn(d);
  } finally {
    d.dispose();
  }
}

/**
 * The agent with the default policy on a model file and a CSV (`csv`: loadDataset's options, e.g. valPath), with
 * `options` added (seed 0 unless given); returns the result and every event, the model and data freed.
 */
export async function runOnFiles(modelPath: string, dataPath: string, csv: LoadDatasetOptions, options: Partial<AgentOptions> & { target: number }): Promise<{ r: AgentResult; events: AgentEvent[] }> {
  const model = await loadModel(modelPath);
  const data = loadDataset(dataPath, csv);
  const fitted = fitDatasetToModel(data, model);
  const events: AgentEvent[] = [];
  try {
    const r = await runAgent(model, fitted, loadPolicy('default'), { seed: 0, ...options, onEvent: (e) => events.push(e) });
    r.masks.dispose();
    return { r, events };
  } finally {
    if (fitted !== data) fitted.dispose();
    data.dispose();
    model.dispose();
  }
}

/** runOnFiles on a case of the small-data suite, with the CLI's split (split seed 0). */
export function runSmallCase(name: string, options: Partial<AgentOptions> & { target: number }): Promise<{ r: AgentResult; events: AgentEvent[] }> {
  const p = smallCasePaths(name);
  return runOnFiles(p.model, p.data, { seed: 0, standardize: false }, options);
}

/** Re-encodes a saved model's weights as tensorflowjs_converter --quantize_uint8 does (v ≈ min + scale · q); the weights file's bytes. */
export function quantizeUint8(dir: string): number {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const floats = new Float32Array(new Uint8Array(readFileSync(join(dir, 'weights.bin'))).buffer);
  const bytes: number[] = [];
  let off = 0;
  for (const w of json.weightsManifest[0].weights) {
    const n = w.shape.reduce((a: number, b: number) => a * b, 1);
    const v = floats.subarray(off, off + n);
    off += n;
    const min = Math.min(...v), max = Math.max(...v);
    const scale = max > min ? (max - min) / 255 : 1;
    v.forEach((x) => bytes.push(Math.round((x - min) / scale)));
    w.quantization = { dtype: 'uint8', min, scale };
  }
  writeFileSync(join(dir, 'weights.bin'), Uint8Array.from(bytes));
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  return bytes.length;
}
