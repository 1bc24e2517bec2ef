#!/usr/bin/env node
// The cost table `--objective latency` times (src/pruning/latency-profile.ts) for a LeNet-shaped model of random
// weights (the time does not depend on the values), several times over: each kernel's predicted ms, each probe's
// saving, and the ceiling the run would refuse targets above. docs/compaction.md quotes its ceilings. Needs `npm run build`.
//
//   node scripts/latency-ceiling.mjs [lenet-5|lenet-300-100] [batch, default 256] [repetitions, default 3]
import { selectBackend } from '../dist/backend/tf.js';
import { architecture, buildModel } from '../dist/models/families.js';
import { PrunableModel } from '../dist/pruning/prunable-model.js';
import { measureLatencyProfile, profileRows } from '../dist/pruning/latency-profile.js';
import { checkUnitsRemovable } from '../dist/agent/granularity.js';

selectBackend();
const [name = 'lenet-5', batch = '256', reps = '3'] = process.argv.slice(2);
const model = buildModel({ ...architecture(name), seed: 0 });
const pm = new PrunableModel(model);
for (let rep = 0; rep < Number(reps); rep++) {
  const p = measureLatencyProfile(pm, { batch: Number(batch) });
  pm.setLatencyProfile(p);
  let ceiling = 'reaches 0.99';
  try { checkUnitsRemovable('unit', 'latency', pm, 0.99); } catch (e) { ceiling = /at most ([\d.]+ %)/.exec(e.message)?.[1] ?? e.message; }
  console.log(`run ${rep + 1}: dense ${p.denseMs.toFixed(2)} ms at batch ${p.batch}; ceiling ${ceiling}`);
  for (const r of profileRows(p, pm)) console.log(`  ${r.kernel}: ${r.denseMacs} MACs, ${r.ms.toFixed(3)} ms`);
  for (const q of p.probes) console.log(`  probe ${q.layer}: saved ${q.savedMs.toFixed(2)} ms, MACs freed ${q.macs.join(' / ')}`);
}
pm.dispose();
model.dispose();
