#!/usr/bin/env node
// The agent with the CLI's defaults on coverage cases (datasets/coverage/), quicker than `autoprune bench --suite coverage`
// when only the agent changed: sparsity of the prunable weights, exit reason, val/test metric, the steps taken.
// AGENT_OPTS (JSON) adds agent options, e.g. AGENT_OPTS='{"planner":{"initialRate":0.25}}'.
//   node scripts/coverage-agent-check.mjs [cases]   e.g. lstm-text,gru-text
const { fitDatasetToModel, taskOf, csvTargetsOf } = await import('../dist/models/task.js');
const { runAgent } = await import('../dist/agent/loop.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const { accuracy } = await import('../dist/models/train.js');
const { loadModel } = await import('../dist/models/io.js');
const { loadDataset } = await import('../dist/data/registry.js');
const { coverageCases, coveragePaths } = await import('../dist/bench/coverage-suite.js');
const names = (process.argv[2] ?? 'lstm-text').split(',');
const policy = loadPolicy(new URL('../policies/default.json', import.meta.url).pathname);
for (const c of coverageCases().filter((k) => names.includes(k.name))) {
  const p = coveragePaths(c);
  const model = await loadModel(p.model);
  const f = c.flags ?? []; const li = f.indexOf('--label');
  const targets = csvTargetsOf(taskOf(model));
  const data = loadDataset(p.data, { seed: 0, ...(p.data.endsWith('.csv') ? { standardize: false, ...(targets != null ? { targets } : {}), ...(li >= 0 ? { label: f[li + 1] } : {}) } : {}) });
  const fitted = fitDatasetToModel(data, model, taskOf(model));
  const dense = accuracy(model, fitted.test);
  const t0 = Date.now();
  const r = await runAgent(model, fitted, policy, { target: 0.8, ...JSON.parse(process.env.AGENT_OPTS ?? '{}') });
  const steps = r.steps.map((s) => `${(100 * s.toSparsity).toFixed(1)}${s.accepted ? "+" : "-"}${s.drop != null ? `(${(100 * s.drop).toFixed(1)})` : ""}`).join(" ");
  console.log(r.steps[0]?.reason ?? "(first step at the initial rate)"); console.log(`${c.name}: dense ${dense.toFixed(4)} → ${r.testAccuracy.toFixed(4)}, sparsity ${r.sparsity.global.toFixed(3)}, ${r.stopReason}, steps ${steps}, ${r.totals.fineTuneSteps ?? ''} opt steps, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
