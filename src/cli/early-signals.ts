/**
 * Ctrl-C or SIGTERM before a command has set up its own handling (the seconds the CLI spends loading TensorFlow):
 * exit 130 with a line saying so (a `--json` error event too), not the signal's default death (143, no word). A command
 * that stops gracefully (prune, build-meta's worker) releases this hold before it installs its own handlers.
 */
let early: (() => void) | undefined;

export function holdEarlySignals(): void {
  if (early) return;
  early = () => {
    const message = 'interrupted before the run started; nothing was written';
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ type: 'error', message, exitCode: 130 })}\n`);
    process.stderr.write(`autoprune: ${message}\n`);
    process.exit(130);
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
}

export function releaseEarlySignals(): void {
  if (!early) return;
  process.off('SIGINT', early);
  process.off('SIGTERM', early);
  early = undefined;
}
