#!/usr/bin/env node
// Class weights on an imbalanced real table: the CLI defaults with and without `--class-weight balanced` on the model
// of datasets/imbalanced/birdstrikes-all (7,145 FAA bird strikes, 10 % damaged, a 64-64 MLP trained with balanced
// class weights: scripts/build-small-suite.mjs). Per target and seed: exit code, sparsity, and from report.json's
// final.classes the test recall of each class, accuracy and balanced accuracy (the mean recall), dense → pruned.
//   node scripts/class-weight-check.mjs [targets] [seeds]      e.g. 0.8,0.9 0,1,2
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { runPrune } = await import(join(root, 'dist/api.js'));
const dir = join(root, 'datasets', 'imbalanced', 'birdstrikes-all');
const targets = (process.argv[2] ?? '0.8,0.9').split(',').map(Number);
const seeds = (process.argv[3] ?? '0,1,2').split(',').map(Number);

/** Accuracy and balanced accuracy from each class's test rows and recall (of the dense model or the pruned one). */
function figures(classes, which) {
  const recall = (c) => (which === 'dense' ? c.denseRecall : c.recall);
  const rows = classes.reduce((a, c) => a + c.testRows, 0);
  return {
    accuracy: classes.reduce((a, c) => a + recall(c) * c.testRows, 0) / rows,
    balanced: classes.reduce((a, c) => a + recall(c), 0) / classes.length,
    recall: Object.fromEntries(classes.map((c) => [c.name, recall(c)])),
  };
}
const pct = (v) => (100 * v).toFixed(2);
const rows = [];
for (const target of targets) for (const classWeight of [undefined, 'balanced']) for (const seed of seeds) {
  const t0 = Date.now();
  const r = await runPrune({
    model: join(dir, 'model', 'model.json'), data: join(dir, 'data.csv'), target, seed, ...(classWeight ? { classWeight } : {}),
    onEvent: (e) => { if (e.type === 'warning' && /control/.test(e.message)) console.log(`  warning: ${e.message.slice(0, 160)}…`); },
  });
  const classes = r.report.final.classes;
  const dense = figures(classes, 'dense');
  const pruned = figures(classes, 'pruned');
  const row = {
    target, classWeight: classWeight ?? 'none', seed, exit: r.report.final.exitCode, sparsity: r.report.final.sparsity,
    accuracy: [dense.accuracy, pruned.accuracy], balanced: [dense.balanced, pruned.balanced], damagedRecall: [dense.recall['1'], pruned.recall['1']],
    seconds: (Date.now() - t0) / 1000,
  };
  rows.push(row);
  console.log(`@${target} class weights ${row.classWeight} seed ${seed}: exit ${row.exit}, sparsity ${pct(row.sparsity)} %, test accuracy ${pct(dense.accuracy)} → ${pct(pruned.accuracy)}, ` +
    `balanced ${pct(dense.balanced)} → ${pct(pruned.balanced)}, damaged recall ${pct(row.damagedRecall[0])} → ${pct(row.damagedRecall[1])} (${row.seconds.toFixed(0)} s)`);
  r.model.dispose();
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log('\n| target | --class-weight | exit codes | test accuracy (dense → pruned) | balanced accuracy | damaged recall |');
console.log('|---|---|---|---|---|---|');
for (const target of targets) for (const cw of ['none', 'balanced']) {
  const g = rows.filter((r) => r.target === target && r.classWeight === cw);
  const pair = (k) => `${pct(mean(g.map((r) => r[k][0])))} → ${pct(mean(g.map((r) => r[k][1])))}`;
  console.log(`| ${target} | ${cw} | ${g.map((r) => r.exit).join(' / ')} | ${pair('accuracy')} | ${pair('balanced')} | ${pair('damagedRecall')} |`);
}
