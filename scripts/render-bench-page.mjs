// Re-renders docs/benchmarks.md from the raw results beside it (docs/benchmarks.json) without running anything: for a
// change to how the page presents the figures (src/bench/page.ts, structured.ts), not to the figures. The scoring
// throughput paragraph (measured, not stored in the JSON) and the suites' own sections are kept as the page has them.
//   npm run build && node scripts/render-bench-page.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { renderBenchPage } = await import('../dist/bench/page.js');
const { structuredSection } = await import('../dist/bench/structured.js');
const jsonPath = `${root}docs/benchmarks.json`;
const pagePath = `${root}docs/benchmarks.md`;
const results = JSON.parse(readFileSync(jsonPath, 'utf8'));
const before = readFileSync(pagePath, 'utf8');
const page = await renderBenchPage(results, { command: results.command, plotFile: (m) => `benchmarks-${m}.svg` });
for (const [file, svg] of Object.entries(page.plots)) writeFileSync(`${root}docs/${file}`, svg);
const scoring = before.slice(before.indexOf('## Scoring throughput'), before.indexOf('<!--', before.indexOf('## Scoring throughput')));
const suites = before.slice(before.indexOf('<!--', before.indexOf('## Scoring throughput')));
writeFileSync(pagePath, `${page.markdown}\n${structuredSection(results.structured)}\n${scoring}${suites}`);
console.log(`re-rendered ${pagePath} from ${jsonPath} (run finished ${results.createdAt})`);
