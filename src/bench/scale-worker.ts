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
import { SCALE_ERROR } from './scale.js';

function vm(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main(): Promise<void> {
  const width = Number(process.argv[2]);
  const granularity = (process.argv[3] ?? 'connection') as Granularity;
  selectBackend();
  // The data loaded once and dropped before the base is read: the runtime's footprint of loading it (its parse's heap,
  // which the process keeps) is in the base, as when the worker held the data (until 2026-12-07); the run loads it again.
  const { loadMnist10k } = await import('../data/mnist.js');
  loadMnist10k({ seed: 0 }).dispose();
  const baseRss = vm('VmRSS');
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [784], units: width, activation: 'relu', ...init(1) }),
    tf.layers.dense({ units: width, activation: 'relu', ...init(2) }),
    tf.layers.dense({ units: 10, activation: 'softmax', ...init(3) }),
  ] });
  const modelRss = vm('VmRSS');
  const t0 = Date.now();
  // An untrained model: its outputs' order is given (it is the digits'), or the label check can refuse it for scoring
  // better in another order by chance (width 3000 did, 22.4 % against 7.7 %: a new user's rerun of this suite). The
  // order is a CLI data set's option, so the data is named as the CLI names it, and loaded by the run.
  const labelOrder = Array.from({ length: 10 }, (_, k) => String(k));
  const { model: pruned, report } = await autoprune({ model, data: 'mnist-10k', target: 0.9, budgetEpochs: 2, policy: 'default', force: true, granularity, labelOrder });
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
    scoredAs: report.policy.outsideDomain?.scoredAs ?? report.policy.name,
  })}\n`);
  pruned.dispose();
  model.dispose();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  // The line the bench reports: the error's own message, not the stack's last frame.
  process.stderr.write(`${SCALE_ERROR}${String((err as Error).message ?? err).split('\n')[0]}\n`);
  process.exit(1);
});
