/**
 * Worker process of `compareLatencyBySettings`: TensorFlow reads its runtime settings (intra-op threads,
 * oneDNN) once, when the native library starts, so each setting is timed in a process of its own.
 * Loads the models of the JSON spec in argv[2] (plus a floor model), prints one line `{"backend": …}`
 * when ready, then answers each request line on stdin with one line of raw times
 * per model; exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { selectBackend, tf } from '../backend/tf.js';
import { loadModel } from '../models/io.js';
import { floorModel, sampleLatency } from './latency.js';

export interface LatencyWorkerSpec {
  /** Model folders, timed in alternation with a floor model (appended last). */
  dirs: string[];
  inputShape: number[];
}

/** One round: `runs` calls per model at `batch` in alternating turns of `block` (sampleLatency), after `warmup` untimed ones. */
export interface LatencyRequest {
  batch: number;
  runs: number;
  warmup: number;
  block?: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as LatencyWorkerSpec;
  selectBackend();
  const models = await Promise.all(spec.dirs.map((d) => loadModel(d)));
  models.push(floorModel(spec.inputShape, (models[0].outputs[0].shape as number[]).slice(1).reduce((a, b) => a * b, 1)));
  process.stdout.write(`${JSON.stringify({ backend: tf.getBackend() })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as LatencyRequest;
    process.stdout.write(`${JSON.stringify(sampleLatency(models, spec.inputShape, req))}\n`);
  }
  models.forEach((m) => m.dispose());
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
