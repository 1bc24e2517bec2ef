import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverageCases, coveragePaths } from '../src/bench/coverage-suite.js';

const root = new URL('..', import.meta.url).pathname;

describe('the npm package', () => {
  it('ships what a user runs and reads (CLI, library, types, policies, suites, examples, docs, LICENSE) and nothing of the repo\'s own', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/autoprune.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/callback.js',
      'policies/default.json', 'scripts/setup-native.mjs', 'datasets/coverage/suite.json', 'datasets/small/suite.json', 'examples/sweep.mjs', 'examples/callback.mjs', 'docs/agent.md']) {
      expect(files.has(f), f).toBe(true);
    }
    for (const f of files) expect(f, f).not.toMatch(/^(src|test|\.native|node_modules|\.ci)\//);
    // Of scripts/, what the package itself runs (the install step and `autoprune setup-native`; the speed suite's PyTorch
    // side), not the repository's measuring scripts (they need a clone: README, "Docs").
    expect([...files].filter((f) => f.startsWith('scripts/')).sort()).toEqual(['scripts/setup-native.mjs', 'scripts/speed-torch.py']);
    // Every coverage case's data where the suite reads it, and no data file shipped twice (gru-text reads lstm-text's CSV).
    for (const c of coverageCases()) if (c.data !== 'mnist') expect(files.has(relative(root, coveragePaths(c).data)), c.name).toBe(true);
    const bySum = new Map<string, string>();
    for (const f of [...files].filter((p) => p.startsWith('datasets/'))) {
      const sum = createHash('sha256').update(readFileSync(join(root, f))).digest('hex');
      expect(bySum.get(sum), `${f} is the same file as ${bySum.get(sum)}`).toBeUndefined();
      bySum.set(sum, f);
    }
    // Source maps carry their sources: src/ is not shipped, so a map that only pointed at it would be useless.
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const m of maps.slice(0, 20)) {
      const map = JSON.parse(readFileSync(join(root, m), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      expect(map.sourcesContent?.length, m).toBe(map.sources.length);
    }
  });

  it('exposes the sparse file reader as the subpath export autoprune/sparse', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "const m = await import('autoprune/sparse'); console.log(typeof m.decodeSparse, typeof m.inspectSparse, typeof m.encodeSparse)"],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out.trim()).toBe('function function function');
  });
});
