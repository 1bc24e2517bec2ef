#!/usr/bin/env node
// A dense model against its compact form as `autoprune compact` wrote it, at a batch size: the dense model as given
// and with the same serving rewrites (src/pruning/rewrite.ts, for that batch), the compact model, each timed with one
// `predict(x, {batchSize})` call per run, in alternation (src/bench/latency.js), medians in ms.
// Needs `npm run build`.   node scripts/compact-latency.mjs <dense model.json> <compact model.json> [batch] [runs]
import { selectBackend } from '../dist/backend/tf.js';
import { compareLatency } from '../dist/bench/latency.js';
import { loadModel } from '../dist/models/io.js';
import { rewriteForSpeed } from '../dist/pruning/rewrite.js';

selectBackend();
const [densePath, compactPath, batchArg = '256', runsArg = '40'] = process.argv.slice(2);
if (!densePath || !compactPath) throw new Error('usage: node scripts/compact-latency.mjs <dense model.json> <compact model.json> [batch] [runs]');
const batch = Number(batchArg);
const dense = await loadModel(densePath);
const compact = await loadModel(compactPath);
const rewritten = rewriteForSpeed(dense, { batch });
const shape = dense.inputs[0].shape.slice(1);
const [d, r, c] = compareLatency([dense, rewritten.model, compact], shape, { batch, runs: Number(runsArg) });
console.log(`batch ${batch}, median of ${runsArg}: dense ${d.medianMs.toFixed(2)} ms, dense with the serving rewrites (${rewritten.rewrites.length}) ` +
  `${r.medianMs.toFixed(2)} ms, compact ${c.medianMs.toFixed(2)} ms (${(r.medianMs / c.medianMs).toFixed(2)}× the rewritten dense)`);
