#!/usr/bin/env node
// Entry point of the `autoprune` command: the compiled CLI in dist/ (built by `npm install`'s prepare step).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('autoprune: error: the CLI is not built; run `npm install` (or `npm run build`) in the autoprune folder\n');
  process.exit(1);
}
// Before anything heavy loads: an early Ctrl-C or SIGTERM exits 130 with a word, not 143 in silence.
(await import(new URL('../dist/cli/early-signals.js', import.meta.url).href)).holdEarlySignals();
await import(main.href);
