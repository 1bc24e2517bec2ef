#!/usr/bin/env node
// Re-renders the retrain section of docs/policy.md from docs/policy-retrain.json without running anything: for a
// change to how the section presents the figures (src/bench/retrain.ts, retrainSection), not to the figures. The date
// and command stay the run's.
//   npm run build && node scripts/render-retrain-section.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { retrainSection } = await import('../dist/bench/retrain.js');
const jsonPath = `${root}docs/policy-retrain.json`;
const pagePath = `${root}docs/policy.md`;
const { command, records } = JSON.parse(readFileSync(jsonPath, 'utf8'));
const page = readFileSync(pagePath, 'utf8');
const start = page.indexOf('\n', page.indexOf('<!-- retrain:start')) + 1;
const end = page.indexOf('<!-- retrain:end');
if (start <= 0 || end < 0) throw new Error(`no retrain section markers in ${pagePath}`);
const old = page.slice(start, end);
const date = /Measured (\d{4}-\d\d-\d\d)/.exec(old)?.[1];
const backend = /\(backend ([^)]+\))\)/.exec(old)?.[1] ?? 'tensorflow (native)';
if (!date) throw new Error('the section has no "Measured <date>"');
writeFileSync(pagePath, page.slice(0, start) + retrainSection(records, { date, command, backend }) + '\n' + page.slice(end));
console.log(`re-rendered the retrain section of ${pagePath} from ${jsonPath}`);
