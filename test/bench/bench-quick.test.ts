/** Smoke test of `autoprune bench --quick`: the page, raw JSON and plot are produced from real runs. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { cli } from '../cli/cli-helpers.js';

describe('autoprune bench --quick', () => {
  it('writes benchmarks.md with every method, the bars, speed, and a plot', async () => {
    const dir = tempDir();
    const out = join(dir, 'benchmarks.md');
    const r = await cli(['bench', '--quick', '--models', 'lenet-300-100', '--fresh', '--out', out]);
    expect(r.code).toBe(0);
    const md = readFileSync(out, 'utf8');
    for (const m of ['random', 'uniform-magnitude', 'global-magnitude', 'taylor', 'wanda', 'lamp', 'learned', 'learned-lofo', 'agent', 'gradual-magnitude@agent-epochs']) {
      expect(md).toMatch(new RegExp(`\\| ${m} \\| \\d`));
    }
    expect(md).toContain('## Bars');
    expect(md).toMatch(/\*\*(met|NOT met)\*\* — learned ≥ best baseline, lenet-300-100 @ 0.9/);
    expect(md).toContain('## Speed');
    expect(md).toContain('## Structured pruning, compaction and file size');
    expect(md).toMatch(/million connections per second/);
    const raw = JSON.parse(readFileSync(join(dir, 'benchmarks.json'), 'utf8'));
    expect(raw.records.length).toBeGreaterThanOrEqual(2 * 8);
    for (const rec of raw.records) expect(rec.testAfter).toBeGreaterThan(0.1);
    expect(existsSync(join(dir, 'benchmarks-lenet-300-100.svg'))).toBe(true);
    expect(readFileSync(join(dir, 'benchmarks-lenet-300-100.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // Latency of the structured runs: each form at its fastest of the runtime settings tried.
    for (const s of raw.structured) {
      expect(s.latencyBySetting.map((x: { setting: string }) => x.setting)).toEqual(['auto', '1 thread', 'no oneDNN', '1 thread, no oneDNN']);
      const fastest = Math.min(...s.latencyBySetting.map((x: { dense: { b256: number } }) => x.dense.b256));
      expect(s.latencyMs.dense.b256).toBe(fastest);
    }
    expect(md).toContain('under each runtime setting');

    // --reuse: a second run takes every record of the first (same dense models, budgets and policies) and says so.
    // The other suites' sections already on the page are kept as they were.
    const again = join(dir, 'again.md');
    const blocks = ['small-suite', 'scale', 'ecosystem', 'speed'].map((n) => `<!-- ${n}:start (autoprune bench --suite ${n === 'small-suite' ? 'small' : n}) -->\nkept ${n}\n<!-- ${n}:end -->`);
    writeFileSync(again, `# old page\n\n${blocks.join('\n\n')}\n`);
    const r2 = await cli(['bench', '--quick', '--models', 'lenet-300-100', '--fresh', '--reuse', join(dir, 'benchmarks.json'), '--out', again]);
    expect(r2.code, r2.stderr).toBe(0);
    const raw2 = JSON.parse(readFileSync(join(dir, 'again.json'), 'utf8'));
    expect(raw2.records.map((x: { reusedFrom?: unknown }) => ({ ...x, reusedFrom: undefined }))).toEqual(raw.records);
    for (const x of raw2.records) expect(x.reusedFrom).toEqual({ file: join(dir, 'benchmarks.json'), createdAt: raw.createdAt });
    // The structured rows too (same policy files, code and budgets): taken as measured, the page says from where.
    expect(raw2.structured.map((x: { reusedFrom?: unknown }) => ({ ...x, reusedFrom: undefined }))).toEqual(raw.structured);
    for (const x of raw2.structured) expect(x.reusedFrom).toEqual({ file: join(dir, 'benchmarks.json'), createdAt: raw.createdAt });
    const againMd = readFileSync(again, 'utf8');
    expect(againMd).toContain(`${raw.records.length} of the ${raw.records.length} records were taken from`);
    expect(againMd).toContain(`(all rows taken from ${join(dir, 'benchmarks.json')} by \`--reuse\`)`);
    for (const b of blocks) expect(againMd).toContain(b);
    expect(againMd).not.toContain('# old page');
    const bad = await cli(['bench', '--quick', '--reuse', join(dir, 'benchmarks.md'), '--out', join(dir, 'x.md')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--reuse: cannot read .*benchmarks\.md' as JSON/);
  }, 600_000);
});
