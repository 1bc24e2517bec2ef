// Re-renders docs/benchmarks.md from the raw results beside it (docs/benchmarks.json and the suites' own
// benchmarks-<suite>.json) without running anything: for a change to how the page presents the figures (src/bench/page.ts,
// structured.ts, the suites' section renderers), not to the figures. The scoring throughput paragraph (measured, not stored
// in the JSON) and the sections of suites without stored records are kept as the page has them; each re-rendered suite
// section keeps the date and backend its run wrote.
//   npm run build && node scripts/render-bench-page.mjs
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
let suites = before.slice(before.indexOf('<!--', before.indexOf('## Scoring throughput')));
// The suites whose records are stored beside the page: their sections again from those records.
const renderers = {
  scale: async () => (await import('../dist/bench/scale.js')).scaleSection,
  ecosystem: async () => (await import('../dist/bench/ecosystem.js')).ecosystemSection,
  extreme: async () => (await import('../dist/bench/extreme.js')).extremeSection,
  speed: async () => { const { speedSection } = await import('../dist/bench/speed.js'); return (records, meta) => speedSection(records[0], meta); },
};
for (const [suite, load] of Object.entries(renderers)) {
  const file = `${root}docs/benchmarks-${suite}.json`;
  const start = suites.indexOf(`<!-- ${suite}:start`);
  const end = suites.indexOf(`<!-- ${suite}:end -->`);
  if (!existsSync(file) || start < 0 || end < 0) continue;
  const open = suites.slice(start, suites.indexOf('-->', start) + 3);
  const old = suites.slice(start, end);
  const date = /(?:Generated|Measured) (\d{4}-\d{2}-\d{2})/.exec(old)?.[1];
  const backend = /\(backend ([\w-]+(?: \(native\))?)/.exec(old)?.[1];
  if (!date || !backend) { console.log(`kept the ${suite} section (no date or backend to keep)`); continue; }
  const { command, records } = JSON.parse(readFileSync(file, 'utf8'));
  const render = await load();
  suites = `${suites.slice(0, start)}${open}\n${render(records, { date, command, backend })}\n${suites.slice(end)}`;
  console.log(`re-rendered the ${suite} section from ${file}`);
}
writeFileSync(pagePath, `${page.markdown}\n${structuredSection(results.structured)}\n${scoring}${suites}`);
console.log(`re-rendered ${pagePath} from ${jsonPath} (run finished ${results.createdAt})`);
