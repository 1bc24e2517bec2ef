/**
 * `autoprune bench --suite ecosystem`: the integration features against the agent they stand beside, on
 * MNIST-10k and LeNet-300-100 (dense: 15 epochs, cached per seed).
 * - PruningCallback inside a plain `model.fit` (Adam 1e-3, batch 128, 15 epochs = 945 optimizer steps) vs the
 *   agent with the same 945-step budget (`--force`, as the MNIST protocol), at 0.9: test accuracy.
 * - One frontier run (`--targets 0.5,0.8,0.9,0.95`) vs four separate runs at the CLI defaults: wall time,
 *   optimizer steps, test accuracy per target.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { PruningCallback } from '../callback.js';
import { runAgent } from '../agent/loop.js';
import { disposeSnapshot } from '../pruning/prunable-model.js';
import type { Dataset } from '../data/dataset.js';
import { loadMnist10k } from '../data/mnist.js';
import { trainedModel } from '../models/cache.js';
import { architecture, type ModelArgs } from '../models/families.js';
import { cloneModel } from '../models/io.js';
import { accuracy } from '../models/train.js';
import { loadPolicy } from '../policy/io.js';
import { atLeast } from './paired.js';

export interface EcosystemRecord {
  seed: number;
  dense: number;
  callback: { target: number; sparsity: number; test: number; steps: number; seconds: number };
  agent: { target: number; sparsity: number; test: number; steps: number; seconds: number };
  frontier: { seconds: number; steps: number; rows: { target: number; reached: boolean; sparsity: number; test: number }[] };
  separate: { seconds: number; steps: number; rows: { target: number; reached: boolean; sparsity: number; test: number }[] };
}

const TARGETS = [0.5, 0.8, 0.9, 0.95];
const EPOCHS = 15;

async function callbackRun(dense: TF.LayersModel, data: Dataset, target: number): Promise<EcosystemRecord['callback']> {
  const model = await cloneModel(dense);
  const t0 = Date.now();
  const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 10).toFloat();
  try {
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const pruner = new PruningCallback(model, { target, calibration: data.train });
    // model.fit shuffles with Math.random (tfjs has no seed for it): this run is not repeatable bit for bit.
    await model.fit(data.train.x, y, { epochs: EPOCHS, batchSize: 128, callbacks: [pruner], verbose: 0, shuffle: true });
    const s = pruner.sparsity().global;
    pruner.strip();
    const steps = EPOCHS * Math.ceil(data.train.labels.length / 128);
    return { target, sparsity: s, test: accuracy(model, data.test), steps, seconds: (Date.now() - t0) / 1000 };
  } finally {
    model.optimizer?.dispose();
    y.dispose();
    model.dispose();
  }
}

/** Runs the ecosystem checks for each seed; `log` gets one line per finished part. */
export async function runEcosystemBench(seeds: number[], log: (m: string) => void): Promise<EcosystemRecord[]> {
  const data = loadMnist10k({ seed: 0 });
  const policy = loadPolicy('default');
  const out: EcosystemRecord[] = [];
  try {
    for (const seed of seeds) {
      const cached = await trainedModel({ args: { ...architecture('lenet-300-100'), seed } as ModelArgs, train: { epochs: EPOCHS, seed } }, data);
      const dense = cached.model;
      try {
        const denseTest = accuracy(dense, data.test);
        const callback = await callbackRun(dense, data, 0.9);
        log(`seed ${seed}: callback @0.9 test ${(100 * callback.test).toFixed(2)} % (dense ${(100 * denseTest).toFixed(2)} %)`);
        const agentRun = async (target: number, o: { force?: boolean; milestones?: number[] }) => {
          const m = await cloneModel(dense);
          const t0 = Date.now();
          const r = await runAgent(m, data, policy, { target, budgetEpochs: EPOCHS, seed, ...o });
          const seconds = (Date.now() - t0) / 1000;
          const rows = r.milestones.map((x) => ({ target: x.target, reached: true, sparsity: x.sparsity.global, test: x.testAccuracy }));
          for (const x of r.milestones) disposeSnapshot(x.snapshot);
          r.masks.dispose();
          m.dispose();
          return { r, seconds, rows };
        };
        const a = await agentRun(0.9, { force: true });
        const agent = { target: 0.9, sparsity: a.r.sparsity.global, test: a.r.testAccuracy, steps: a.r.totals.fineTuneSteps, seconds: a.seconds };
        log(`seed ${seed}: agent @0.9 test ${(100 * agent.test).toFixed(2)} %`);
        const f = await agentRun(TARGETS.at(-1)!, { milestones: TARGETS.slice(0, -1) });
        const frontierRows = TARGETS.slice(0, -1).map((t) => f.rows.find((x) => x.target === t) ?? { target: t, reached: false, sparsity: NaN, test: NaN });
        frontierRows.push({ target: TARGETS.at(-1)!, reached: f.r.targetReached, sparsity: f.r.sparsity.global, test: f.r.testAccuracy });
        const frontier = { seconds: f.seconds, steps: f.r.totals.fineTuneSteps, rows: frontierRows };
        log(`seed ${seed}: frontier run ${f.seconds.toFixed(1)} s`);
        const separate = { seconds: 0, steps: 0, rows: [] as EcosystemRecord['separate']['rows'] };
        for (const t of TARGETS) {
          const s = await agentRun(t, {});
          separate.seconds += s.seconds;
          separate.steps += s.r.totals.fineTuneSteps;
          separate.rows.push({ target: t, reached: s.r.targetReached, sparsity: s.r.sparsity.global, test: s.r.testAccuracy });
        }
        log(`seed ${seed}: four separate runs ${separate.seconds.toFixed(1)} s`);
        out.push({ seed, dense: denseTest, callback, agent, frontier, separate });
      } finally {
        dense.dispose();
      }
    }
  } finally {
    data.dispose();
  }
  return out;
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)} %` : '—');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The ecosystem section of docs/benchmarks.md. */
export function ecosystemSection(records: EcosystemRecord[], meta: { date: string; command: string; backend: string }): string {
  const lines = [
    '## Inside the user\'s training, and the frontier in one run',
    '',
    `Generated ${meta.date} by \`${meta.command}\` (backend ${meta.backend}); do not edit by hand. MNIST-10k, LeNet-300-100 trained dense for 15 epochs per seed (cached), the default policy.`,
    '',
    '### PruningCallback in a plain `model.fit` vs the agent, equal optimizer steps, target 0.9',
    '',
    `The callback: \`model.fit\` (its shuffle is unseeded in tfjs, so this column varies between runs) with Adam 1e-3, batch 128, ${EPOCHS} epochs (945 optimizer steps), the cubic schedule reaching 0.9 at two thirds of them, no guard. The agent: the same 945-step budget (its dense control is on top of it), \`--force\` as in the MNIST protocol. Test accuracy; sparsity of the prunable kernels.`,
    '',
    '| seed | dense | callback | agent | callback − agent |',
    '|---:|---:|---:|---:|---:|',
    ...records.map((r) => `| ${r.seed} | ${pct(r.dense)} | ${pct(r.callback.test)} (${pct(r.callback.sparsity)}) | ${pct(r.agent.test)} (${pct(r.agent.sparsity)}) | ${(100 * (r.callback.test - r.agent.test)).toFixed(2)} |`),
    `| mean | ${pct(mean(records.map((r) => r.dense)))} | ${pct(mean(records.map((r) => r.callback.test)))} | ${pct(mean(records.map((r) => r.agent.test)))} | ${(100 * mean(records.map((r) => r.callback.test - r.agent.test))).toFixed(2)} |`,
    '',
    `Bar (issue 16): the callback at least as accurate as the agent at equal epochs: **${atLeast(mean(records.map((r) => r.callback.test - r.agent.test)), 0) ? 'met' : 'NOT met'}** on the mean of ${records.length} seed${records.length === 1 ? '' : 's'}.`,
    '',
    `### One frontier run (${TARGETS.join(', ')}) vs four separate runs`,
    '',
    'Both at the CLI defaults (default budget, guard, no `--force`). The frontier run takes the single run\'s path to the largest target (its final model is that run\'s, bit for bit); each lower target a step crosses is reached on a branch from the state before that step, with a step\'s own fine-tune (on top of the budget). Cost: wall seconds of the runs (dense control included) and fine-tuning optimizer steps (the frontier\'s include its branches).',
    '',
    `| seed | frontier: seconds / steps | separate: seconds / steps | cost ratio (time) | ${TARGETS.map((t) => `test @${t} frontier / separate`).join(' | ')} |`,
    `|---:|---:|---:|---:|${TARGETS.map(() => '---:').join('|')}|`,
    ...records.map((r) => `| ${r.seed} | ${r.frontier.seconds.toFixed(1)} / ${r.frontier.steps} | ${r.separate.seconds.toFixed(1)} / ${r.separate.steps} | ${(r.frontier.seconds / r.separate.seconds).toFixed(2)} | ${TARGETS.map((t, i) => `${pct(r.frontier.rows[i].test)}${r.frontier.rows[i].reached ? '' : ' (not reached)'} / ${pct(r.separate.rows[i].test)}${r.separate.rows[i].reached ? '' : ' (exit 3)'}`).join(' | ')} |`),
  ];
  const ratio = mean(records.map((r) => r.frontier.seconds / r.separate.seconds));
  const perTarget = TARGETS.map((_, i) => mean(records.map((r) => r.frontier.rows[i].test - r.separate.rows[i].test)));
  lines.push('', `Mean cost ratio ${ratio.toFixed(2)} (bar ≤ 0.40: **${ratio <= 0.4 ? 'met' : 'NOT met'}**); mean test difference frontier − separate per target: ${TARGETS.map((t, i) => `@${t} ${(100 * perTarget[i] + 0).toFixed(2).replace(/^-0\.00$/, '0.00')}`).join(', ')} points (bar: ≥ 0 at every target: **${perTarget.every((d) => atLeast(d, 0)) ? 'met' : 'NOT met'}**).`);
  return lines.join('\n');
}
