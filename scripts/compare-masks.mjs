#!/usr/bin/env node
// Checks that two builds choose the same connections: features → policy scores → selection, five
// cumulative steps (0.5 … 0.98) on LeNet-300-100 and LeNet-5 (real MNIST calibration data), for the learned
// policies and two baselines. Used to show that a rewrite of feature extraction or selection (issue 18)
// leaves every mask as it was.
//
//   git worktree add /tmp/old <ref> && (cd /tmp/old && ln -s "$OLDPWD/node_modules" "$OLDPWD/.native" . && npx tsc -p tsconfig.build.json)
//   (both builds must load the same native backend: without .native the old one falls back to pure JS)
//   node scripts/compare-masks.mjs /tmp/old/dist
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const other = resolve(process.argv[2] ?? '');
if (!process.argv[2]) { console.error('usage: node scripts/compare-masks.mjs <other build>/dist'); process.exit(2); }
const cur = (m) => import(join(root, 'dist', m));
const old = (m) => import(join(other, m));
(await cur('backend/tf.js')).selectBackend();
const { buildModel, LENET_300_100, LENET_5 } = await cur('models/families.js');
const { loadMnist10k } = await cur('data/mnist.js');
const { loadPolicy } = await cur('policy/io.js');
const { SCORERS } = await cur('policy/baselines.js');
const A = { pm: await cur('pruning/prunable-model.js'), x: await cur('features/extract.js'), s: await cur('pruning/select.js') };
const B = { pm: await old('pruning/prunable-model.js'), x: await old('features/extract.js'), s: await old('pruning/select.js') };
const data = loadMnist10k({ seed: 0 });
let differ = 0;
for (const pol of ['default', 'default-v2', 'lamp', 'global-magnitude']) {
  const scorer = pol.startsWith('default') ? loadPolicy(join(root, 'policies', `${pol}.json`)) : SCORERS[pol]();
  for (const args of [LENET_300_100, LENET_5]) {
    const x = args.family === 'cnn' ? data.train.x.reshape([-1, 28, 28, 1]) : data.train.x;
    const calib = { x, labels: data.train.labels };
    const pmA = new A.pm.PrunableModel(buildModel({ ...args, seed: 2 }));
    const pmB = new B.pm.PrunableModel(buildModel({ ...args, seed: 2 }));
    const diffs = [];
    for (const t of [0.5, 0.8, 0.9, 0.95, 0.98]) {
      // This build as the agent scores (one layer at a time, in chunks, only the columns the scorer needs) …
      const per = A.x.scoreLayerWith(scorer);
      const sa = A.x.extractScored(pmA, calib, per, { chunk: per.chunk, needs: per.needs }); A.s.pruneByScores(pmA, sa.scores, sa.features, t);
      // … against the other build's whole feature matrix.
      const fb = B.x.extractFeatures(pmB, calib); B.s.pruneByScores(pmB, scorer.score(fb), fb, t);
      const ma = pmA.maskArrays(), mb = pmB.maskArrays();
      diffs.push(ma.reduce((acc, m, i) => acc + m.reduce((c, v, j) => c + (v !== mb[i][j] ? 1 : 0), 0), 0));
    }
    differ += diffs.reduce((a, b) => a + b, 0);
    console.log(`${pol} ${args.family}: masks differ at 0.5/0.8/0.9/0.95/0.98 in ${diffs.join(' / ')} connections`);
  }
}
process.exit(differ ? 1 : 0);
