/**
 * `autoprune bench --suite imbalanced`: class weights on an imbalanced real table. The committed model of
 * datasets/imbalanced/birdstrikes-all (7,145 FAA bird strikes from vega-datasets, 10 % damaged; a 64-64 MLP trained with
 * balanced class weights: scripts/build-small-suite.mjs) pruned with the CLI defaults, with and without
 * `--class-weight balanced`, per target and seed. Each run's figures come from report.json's `final.classes` (each
 * class's test rows and recall, dense and pruned), so the two runs are compared on the same measures whatever metric
 * each one's guard used: accuracy, balanced accuracy (the mean recall over the classes) and the rare class's recall.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runPrune } from '../api.js';
import { PACKAGE_ROOT } from '../backend/tf.js';
import { resolveClassWeights, withClassWeights } from '../data/class-weight.js';
import { loadDataset } from '../data/registry.js';
import { loadModel } from '../models/io.js';
import { fitDatasetToModel } from '../models/task.js';
import { classRecall } from '../models/train.js';
import { globalMagnitudeScorer } from '../policy/baselines.js';
import { oneShot } from './one-shot.js';
import { paired, pairedText } from './paired.js';

/** The table and model the suite prunes. */
export function imbalancedCase(): { model: string; data: string } {
  const dir = join(PACKAGE_ROOT, 'datasets', 'imbalanced', 'birdstrikes-all');
  return { model: join(dir, 'model', 'model.json'), data: join(dir, 'data.csv') };
}
/** The rare class's name in the table (damaged). */
const RARE = '1';

/** Test figures of one model; `sparsity` where it is a baseline's own (the runs' are the record's). */
type Figures = { accuracy: number; balanced: number; rareRecall: number; sparsity?: number };

export interface ImbalancedRecord {
  target: number;
  seed: number;
  classWeight: 'none' | 'balanced';
  exitCode: number;
  sparsity: number;
  dense: Figures;
  pruned: Figures;
  /**
   * With class weights: the script a user writes with them, at the run's optimizer steps and batch — global magnitude
   * to the target at once, then Adam at a constant 1e-3 on batches drawn by the same weights, last weights kept.
   */
  script?: Figures;
  seconds: number;
}

/** Accuracy, balanced accuracy and the rare class's recall from each class's test rows and recall. */
function figuresOf(classes: readonly { name: string; testRows: number; denseRecall: number | null; recall: number | null }[], which: 'dense' | 'pruned', sparsity?: number): Figures {
  const recall = (c: (typeof classes)[number]) => (which === 'dense' ? c.denseRecall : c.recall) ?? 0;
  const present = classes.filter((c) => c.testRows > 0);
  const rows = present.reduce((a, c) => a + c.testRows, 0);
  return {
    accuracy: present.reduce((a, c) => a + recall(c) * c.testRows, 0) / Math.max(1, rows),
    balanced: present.reduce((a, c) => a + recall(c), 0) / Math.max(1, present.length),
    rareRecall: recall(present.find((c) => c.name === RARE) ?? present[0]),
    ...(sparsity != null ? { sparsity } : {}),
  };
}

/** The user's own script with the weights (ImbalancedRecord.script), on the CLI's split of the table (split seed 0). */
async function weightedScript(seed: number, target: number, steps: number, batchSize: number): Promise<Figures> {
  const c = imbalancedCase();
  const model = await loadModel(c.model);
  const data = loadDataset(c.data, { seed: 0, standardize: false });
  const fitted = fitDatasetToModel(data, model);
  try {
    const weighted = withClassWeights(fitted, resolveClassWeights('balanced', fitted.classNames));
    const r = oneShot(model, weighted, globalMagnitudeScorer(), { target, seed: seed * 1009 + 7919, fineTune: { steps, batchSize } });
    const after = classRecall(model, fitted.test, fitted.classNames.length);
    return figuresOf(fitted.classNames.map((name, k) => ({ name, testRows: after.rows[k], denseRecall: null, recall: after.recall[k] })), 'pruned', r.sparsity);
  } finally {
    if (fitted !== data) fitted.dispose();
    data.dispose();
    model.dispose();
  }
}

/** Runs every target × {no weights, balanced} × seed; `log` gets one line per run. */
export async function runImbalancedBench(o: { targets: number[]; seeds: number[]; log: (m: string) => void }): Promise<ImbalancedRecord[]> {
  const c = imbalancedCase();
  if (!existsSync(c.model)) throw new Error(`the imbalanced table's model is not at ${c.model} (it is in the git repository, not in the npm package)`);
  const out: ImbalancedRecord[] = [];
  for (const target of o.targets) for (const classWeight of ['none', 'balanced'] as const) for (const seed of o.seeds) {
    const t0 = Date.now();
    const r = await runPrune({ model: c.model, data: c.data, target, seed, ...(classWeight === 'balanced' ? { classWeight } : {}) });
    r.model.dispose();
    const classes = r.report.final.classes ?? [];
    const seconds = (Date.now() - t0) / 1000;
    const rec: ImbalancedRecord = {
      target, seed, classWeight, exitCode: r.report.final.exitCode, sparsity: r.report.final.sparsity,
      dense: figuresOf(classes, 'dense'), pruned: figuresOf(classes, 'pruned'), seconds,
      ...(classWeight === 'balanced' ? { script: await weightedScript(seed, target, r.report.totals.fineTuneSteps ?? 0, Number(r.report.config.batchSize)) } : {}),
    };
    out.push(rec);
    const pct = (v: number) => (100 * v).toFixed(2);
    o.log(`imbalanced @${target} class weights ${classWeight} seed ${seed}: exit ${rec.exitCode}, balanced accuracy ${pct(rec.dense.balanced)} → ${pct(rec.pruned.balanced)}, ` +
      `damaged recall ${pct(rec.dense.rareRecall)} → ${pct(rec.pruned.rareRecall)}`);
  }
  return out;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const pct = (v: number) => (100 * v).toFixed(2);

/** The section of docs/benchmarks.md: the table, and the bars with their by-seed differences. */
export function imbalancedSection(records: ImbalancedRecord[], meta: { date: string; command: string; backend: string }): string {
  const targets = [...new Set(records.map((r) => r.target))];
  const lines = [
    '## An imbalanced table: `--class-weight` on a model trained with class weights',
    '',
    `Generated ${meta.date} by \`${meta.command}\` (backend ${meta.backend}); do not edit by hand. datasets/imbalanced/birdstrikes-all: every FAA bird strike of vega-datasets' birdstrikes.csv with a speed (7,145 rows, 10.1 % damaged, the 17 features of the small suite's birdstrikes-damage), a 64-64 ReLU / sigmoid MLP trained with balanced class weights (\`node scripts/build-small-suite.mjs birdstrikes-all\`). The CLI defaults (80/10/10 split: 715 test rows, 73 damaged), with and without \`--class-weight balanced\`. Test figures from report.json's \`final.classes\`, the same measures for both runs: accuracy, balanced accuracy (the mean recall over the two classes) and the damaged class's recall, dense → pruned, mean over the seeds.`,
    '',
    'The last column: the script a user writes with the same weights, given the run\'s own optimizer steps and batch — global magnitude to the target at once, then Adam at a constant 1e-3 on batches drawn by the weights, last weights kept — its pruned test balanced accuracy / damaged recall.',
    '',
    '| target | `--class-weight` | seeds | exit codes | test accuracy | balanced accuracy | damaged recall | sparsity reached (min) | user\'s script with the weights, same steps |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const target of targets) for (const cw of ['none', 'balanced'] as const) {
    const g = records.filter((r) => r.target === target && r.classWeight === cw);
    if (!g.length) continue;
    const pair = (k: 'accuracy' | 'balanced' | 'rareRecall') => `${pct(mean(g.map((r) => r.dense[k])))} → ${pct(mean(g.map((r) => r.pruned[k])))}`;
    const scripts = g.flatMap((r) => (r.script ? [r.script] : []));
    const script = scripts.length === g.length ? `${pct(mean(scripts.map((s) => s.balanced)))} / ${pct(mean(scripts.map((s) => s.rareRecall)))}` : '—';
    lines.push(`| ${target} | ${cw === 'none' ? '—' : cw} | ${g.map((r) => r.seed).join(', ')} | ${g.map((r) => r.exitCode).join(' / ')} | ${pair('accuracy')} | ${pair('balanced')} | ${pair('rareRecall')} | ${pct(Math.min(...g.map((r) => r.sparsity)))} % | ${script} |`);
  }
  lines.push('', 'Bars (the model was trained balanced, so balanced accuracy is its measure; by seed, mean ± standard error):', '');
  for (const target of targets) {
    const w = records.filter((r) => r.target === target && r.classWeight === 'balanced');
    const n = records.filter((r) => r.target === target && r.classWeight === 'none');
    if (!w.length) continue;
    const drop = paired(w.map((r) => r.dense.balanced - r.pruned.balanced));
    const dropText = pairedText(drop);
    lines.push(`- with \`--class-weight balanced\` @${target}, test balanced accuracy within 2 points of dense: ${pct(mean(w.map((r) => r.dense.balanced)))} → ${pct(mean(w.map((r) => r.pruned.balanced)))} % (a drop of ${dropText.value}): **${drop.mean <= 0.02 + 1e-9 ? 'met' : 'NOT met'}**`);
    if (w.every((r) => r.script)) {
      const vs = paired(w.map((r) => r.pruned.balanced - r.script!.balanced));
      const t = pairedText(vs);
      lines.push(`- with \`--class-weight balanced\` @${target} vs the user's script with the weights at the same optimizer steps, pruned test balanced accuracy: ${pct(mean(w.map((r) => r.pruned.balanced)))} vs ${pct(mean(w.map((r) => r.script!.balanced)))} % (${t.value}${t.noise}): **${vs.mean >= -1e-9 ? 'met' : 'NOT met'}**`);
    }
    if (n.length === w.length && n.every((r, i) => r.seed === w[i].seed)) {
      const gain = paired(w.map((r, i) => r.pruned.balanced - n[i].pruned.balanced));
      const g = pairedText(gain);
      lines.push(`- with vs without @${target}, pruned test balanced accuracy: ${pct(mean(w.map((r) => r.pruned.balanced)))} vs ${pct(mean(n.map((r) => r.pruned.balanced)))} % (${g.value}${g.noise}); damaged recall ${pct(mean(w.map((r) => r.pruned.rareRecall)))} vs ${pct(mean(n.map((r) => r.pruned.rareRecall)))} %: **${gain.mean > 0 && !g.noise ? 'met' : 'NOT met'}**`);
    }
  }
  return lines.join('\n');
}
