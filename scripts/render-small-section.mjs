// Re-renders the small-data suite's section of docs/benchmarks.md from docs/benchmarks-small.json without running
// anything: for a change to how the section presents the figures (src/bench/small-suite.ts), not to the figures.
// The date in the section stays the run's (the JSON's file date).
//   npm run build && node scripts/render-small-section.mjs
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { smallSuiteSection } = await import('../dist/bench/small-suite.js');
const jsonPath = `${root}docs/benchmarks-small.json`;
const pagePath = `${root}docs/benchmarks.md`;
const { command, records } = JSON.parse(readFileSync(jsonPath, 'utf8'));
const page = readFileSync(pagePath, 'utf8');
const start = page.indexOf('\n', page.indexOf('<!-- small-suite:start')) + 1;
const end = page.indexOf('<!-- small-suite:end');
const old = page.slice(start, end);
const date = /Measured (\d{4}-\d\d-\d\d)/.exec(old)?.[1] ?? statSync(jsonPath).mtime.toISOString().slice(0, 10);
const backend = /\(backend ([^)]+\))\)/.exec(old)?.[1] ?? 'tensorflow (native)';
writeFileSync(pagePath, page.slice(0, start) + smallSuiteSection(records, { date, command, backend }) + '\n' + page.slice(end));
console.log(`re-rendered the small-data section of ${pagePath} from ${jsonPath}`);
