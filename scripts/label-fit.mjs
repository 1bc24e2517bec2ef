#!/usr/bin/env node
// What the label check (checkLabelOrder, src/run-checks.ts) sees on each small-data suite case with its own label:
// validation accuracy, the most common label's share, and the validation cross-entropy as a multiple of log C (a model
// unsure of every class). A model is refused when it is less than a quarter of the way from that share to every row
// right and its cross-entropy is at least CONFIDENTLY_WRONG × log C. Extra cases: `MODEL,DATA,LABEL` arguments.
//   npm run build && node scripts/label-fit.mjs [model.json,data.csv,label …]
import { selectBackend, tf } from '../dist/backend/tf.js';
import { loadDataset } from '../dist/data/registry.js';
import { loadModel } from '../dist/models/io.js';
import { fitDatasetToModel, predictedClasses, taskOf } from '../dist/models/task.js';
import { smallCasePaths, smallSuiteCases } from '../dist/bench/small-suite.js';

selectBackend();
const cases = [
  ...smallSuiteCases().map((c) => ({ name: c.name, ...smallCasePaths(c.name) })),
  ...process.argv.slice(2).map((a) => { const [model, data, label] = a.split(','); return { name: `${model} / ${label}`, model, data, label }; }),
];
for (const c of cases) {
  const model = await loadModel(c.model);
  const data = loadDataset(c.data, { seed: 0, standardize: false, ...(c.label ? { label: c.label } : {}) });
  const fitted = fitDatasetToModel(data, model);
  const task = taskOf(model);
  const labels = fitted.val.labels;
  const classes = Math.max(2, task.units === 1 ? 2 : task.units);
  const { acc, ce } = tf.tidy(() => {
    const y = model.predict(fitted.val.x);
    const right = tf.sum(tf.cast(tf.equal(predictedClasses(y, task), tf.tensor1d(labels, 'int32')), 'float32')).dataSync()[0];
    const p = task.units === 1 ? (() => { const p1 = task.output === 'sigmoid' ? y : tf.sigmoid(y); return tf.concat([tf.sub(1, p1), p1], 1); })()
      : task.output === 'logits' ? tf.softmax(y) : y;
    const picked = tf.sum(tf.mul(p, tf.oneHot(tf.tensor1d(labels, 'int32'), classes)), 1);
    return { acc: right / labels.length, ce: -tf.mean(tf.log(tf.maximum(picked, 1e-7))).dataSync()[0] };
  });
  const counts = new Map();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const base = Math.max(1 / classes, Math.max(...counts.values()) / labels.length);
  console.log(`${c.name}: val accuracy ${(100 * acc).toFixed(1)} %, most common label ${(100 * base).toFixed(1)} %, cross-entropy ${(ce / Math.log(classes)).toFixed(4)} × log C`);
  if (fitted !== data) fitted.dispose();
  data.dispose();
  model.dispose();
}
