#!/usr/bin/env node
// Scoring throughput of a compiled depth-12 CART policy (one thread). Needs the build: npm run build.
// Usage: node scripts/bench-scoring.mjs [rows] [depth]
import { benchScoring } from '../dist/policy/bench-scoring.js';

const rows = Number(process.argv[2] ?? 2_000_000);
const depth = Number(process.argv[3] ?? 12);
const r = benchScoring({ rows, depth });
const m = (x) => (x / 1e6).toFixed(1);
console.log(`CART depth ${r.depth} (${r.leaves} leaves, reads ${r.usedFeatures}/${r.features} features; trained in ${r.trainSeconds.toFixed(1)} s)`);
console.log(`  compiled tree : ${m(r.treePerSecond)} M connections/s`);
console.log(`  policy.score  : ${m(r.scorePerSecond)} M connections/s wall, ${m(r.scorePerCpuSecond)} M per CPU-second`);
console.log(JSON.stringify(r));
