#!/usr/bin/env node
// The small-data suite's plain-script baseline, added to the stored records of the last `autoprune bench --suite small`
// (docs/benchmarks-small.json) without rerunning the agent: for each record, global magnitude one-shot to its target and
// the optimizer steps that run used, fine-tuned as a user's own script does (Adam at a constant 1e-3, its last weights;
// src/bench/small-suite.ts `magnitudeBaseline` with `plain`, exactly what the suite computes for it since 2026-12-08).
// Prints per case and target the mean test % of the seeds: the agent and the recipe baseline (as stored), the plain one.
// With --write, stores `plainTest` in each record; `node scripts/render-small-section.mjs` then shows it on the page.
//   npm run build && node scripts/small-plain-baseline.mjs [--write]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { magnitudeBaseline } = await import(join(root, 'dist', 'bench', 'small-suite.js'));
const jsonPath = join(root, 'docs', 'benchmarks-small.json');
const stored = JSON.parse(readFileSync(jsonPath, 'utf8'));
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const f = (v) => (100 * mean(v)).toFixed(2);
const groups = new Map();
for (const r of stored.records) {
  // (The round length does not matter to a fine-tune without validation rounds.)
  r.plainTest = (await magnitudeBaseline(r.case, r.seed, r.target, r.steps, r.batchSize, r.steps, { plain: true })).test;
  const key = `${r.case} @${r.target}`;
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
for (const [key, rs] of groups) {
  console.log(`${key}: agent ${f(rs.map((r) => r.agentTest))} | magnitude + FT, the agent's recipe ${f(rs.map((r) => r.baselineTest))} | plain script ${f(rs.map((r) => r.plainTest))}`);
}
const all = stored.records;
console.log(`all ${all.length} runs: agent ${f(all.map((r) => r.agentTest))} | recipe ${f(all.map((r) => r.baselineTest))} | plain ${f(all.map((r) => r.plainTest))}`);
if (process.argv.includes('--write')) {
  writeFileSync(jsonPath, `${JSON.stringify(stored, null, 1)}\n`);
  console.log(`wrote plainTest into ${jsonPath}`);
}
