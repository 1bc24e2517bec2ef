/**
 * Worker process of the scale benchmark (`autoprune bench --suite scale`): one agent step — what
 * `autoprune --target 0.9 --budget 2 [--granularity G]` does on MNIST-10k — on an MLP 784 → W → W → 10
 * (untrained: only cost is measured), in a fresh process so its peak memory is its own; then what a run's
 * output costs: `compactModel` of the pruned model and its sparse export. Prints one JSON line: prunable
 * weights, the process's resident memory before the model, at the agent's peak and at the peak after the
 * exports (VmHWM), and seconds per phase.
 */
import { readFileSync } from 'node:fs';
import { selectBackend, tf } from '../backend/tf.js';
import { autoprune } from '../api.js';
import type { Granularity } from '../agent/granularity.js';
import { compactModel } from '../pruning/compact.js';
import { encodeSparse } from '../pruning/sparse-format.js';

function vm(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main(): Promise<void> {
  const width = Number(process.argv[2]);
  const granularity = (process.argv[3] ?? 'connection') as Granularity;
  selectBackend();
  const { loadMnist10k } = await import('../data/mnist.js');
  const data = loadMnist10k({ seed: 0 });
  const baseRss = vm('VmRSS');
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [784], units: width, activation: 'relu', ...init(1) }),
    tf.layers.dense({ units: width, activation: 'relu', ...init(2) }),
    tf.layers.dense({ units: 10, activation: 'softmax', ...init(3) }),
  ] });
  const modelRss = vm('VmRSS');
  const t0 = Date.now();
  const { model: pruned, report } = await autoprune({ model, data, target: 0.9, budgetEpochs: 2, policy: 'default', force: true, granularity });
  const seconds = (Date.now() - t0) / 1000;
  const agentPeakRss = vm('VmHWM');
  // The outputs of a run, on the pruned model (its exact zeros are the pruned weights).
  let t1 = Date.now();
  const compact = compactModel(pruned);
  const compactSeconds = (Date.now() - t1) / 1000;
  compact.model.dispose();
  t1 = Date.now();
  const sparseBytes = encodeSparse(pruned).length;
  const sparseSeconds = (Date.now() - t1) / 1000;
  process.stdout.write(`${JSON.stringify({
    width, granularity, prunable: report.dense.prunable, params: report.dense.params, baseRss, modelRss, peakRss: agentPeakRss,
    exportPeakRss: vm('VmHWM'), compactSeconds, sparseSeconds, sparseBytes,
    phases: report.phases, seconds, sparsity: report.final.sparsity, steps: report.steps.length, passes: report.totals.scoringPasses,
  })}\n`);
  pruned.dispose();
  model.dispose();
  data.dispose();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
