/**
 * Child process of `compareLatencyByThreads`: TensorFlow reads its intra-op thread count
 * (TF_NUM_INTRAOP_THREADS) once, when the native library starts, so each thread setting is timed in a
 * process of its own. Reads a JSON spec from argv[2], prints one JSON line of results.
 */
import { selectBackend, tf } from '../backend/tf.js';
import { loadModel } from '../models/io.js';
import { compareLatency, floorModel, type LatencyResult } from './latency.js';

export interface LatencyWorkerSpec {
  /** Model folders, timed in alternation with a floor model (appended last). */
  dirs: string[];
  inputShape: number[];
  batches: number[];
  runs: number;
}

/** Results per batch size, one per model of the spec and the floor last. */
export type LatencyWorkerResult = Record<string, LatencyResult[]>;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as LatencyWorkerSpec;
  selectBackend();
  const models = await Promise.all(spec.dirs.map((d) => loadModel(d)));
  const floor = floorModel(spec.inputShape, (models[0].outputs[0].shape as number[]).slice(1).reduce((a, b) => a * b, 1));
  const out: LatencyWorkerResult = {};
  for (const batch of spec.batches) out[batch] = compareLatency([...models, floor], spec.inputShape, { batch, runs: spec.runs });
  process.stdout.write(`${JSON.stringify(out)}\n`);
  for (const m of [...models, floor]) m.dispose();
  tf.disposeVariables();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
