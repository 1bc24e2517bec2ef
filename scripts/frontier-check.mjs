#!/usr/bin/env node
// One seed of the frontier against single runs on LeNet-300-100 (MNIST-10k, the cached dense model, default
// policy), target 0.95, with each run's steps: how docs/agent.md's "A frontier in one run" figures were taken.
//   node scripts/frontier-check.mjs <seed> '[["frontier",{"budgetEpochs":15,"milestones":[0.5,0.8,0.9]}],["single",{"budgetEpochs":15}]]'
// Each entry is a name and runAgent options (e.g. budgetSteps instead of budgetEpochs).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const load = (m) => import(join(dist, m));
(await load('backend/tf.js')).selectBackend();
const { loadMnist10k } = await load('data/mnist.js');
const { trainedModel } = await load('models/cache.js');
const { architecture } = await load('models/families.js');
const { runAgent } = await load('agent/loop.js');
const { loadPolicy } = await load('policy/io.js');
const { cloneModel } = await load('models/io.js');
const { disposeSnapshot } = await load('pruning/prunable-model.js');

const seed = Number(process.argv[2] ?? 1);
const variants = JSON.parse(process.argv[3] ?? '[["frontier",{"budgetEpochs":15,"milestones":[0.5,0.8,0.9]}],["single",{"budgetEpochs":15}]]');
const data = loadMnist10k({ seed: 0 });
const policy = loadPolicy('default');
const cached = await trainedModel({ args: { ...architecture('lenet-300-100'), seed }, train: { epochs: 15, seed } }, data);
for (const [name, o] of variants) {
  const m = await cloneModel(cached.model);
  const r = await runAgent(m, data, policy, { target: 0.95, seed, ...o });
  const lower = r.milestones.map((x) => `${x.target}: ${(100 * x.testAccuracy).toFixed(2)} %`).join(', ');
  console.log(`${name}: test ${(100 * r.testAccuracy).toFixed(2)} % (val ${(100 * r.valAccuracy).toFixed(2)} %), ${r.totals.fineTuneSteps} optimizer steps${lower ? `; lower targets ${lower}` : ''}`);
  for (const s of r.steps) console.log(`  ${s.fromSparsity.toFixed(3)} → ${s.toSparsity.toFixed(3)} ${s.accepted ? 'accepted' : 'rolled back'}, ${s.fineTuneSteps} steps, val ${(100 * s.valAccuracy).toFixed(2)} %`);
  for (const x of r.milestones) disposeSnapshot(x.snapshot);
  r.masks.dispose();
  m.dispose();
}
cached.model.dispose();
data.dispose();
