/**
 * Ctrl-C or SIGTERM before a command has set up its own handling (the seconds the CLI spends loading TensorFlow):
 * exit 130 with a line saying so (a `--json` error event too), not the signal's default death (143, no word). A command
 * that stops gracefully (prune, build-meta's worker) releases this hold before it installs its own handlers.
 */
let early: (() => void) | undefined;
/** Set by a command's own handler at its first signal: the launcher watch then sends nothing (it would count as a second). */
let stopping = false;

/** A command's signal handler says a stop is under way. */
export function markStopping(): void {
  stopping = true;
}

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
  stopWhenLauncherGone();
}

/**
 * Under npm (`npx autoprune`, an npm script), the command runs as `npm → sh -c → node`: a SIGTERM to npm — what an
 * orchestrator's timeout sends to the process it started — ends npm and its shell but not this process, which ran on
 * and wrote its output later (a new user's AutoML trial). Where npm started it, a launcher gone (this process handed to
 * another parent) stops the run as a SIGTERM does: exit 130, resumable. Checked twice a second; never keeps the process alive.
 */
function stopWhenLauncherGone(): void {
  if (process.env.npm_command == null || process.env.AUTOPRUNE_LAUNCHER_WATCH === '0') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    if (stopping) return;
    process.stderr.write('autoprune: the process that started this command (npm) is gone — stopped by a signal? — so it stops as on SIGTERM (AUTOPRUNE_LAUNCHER_WATCH=0 lets it run on)\n');
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  timer.unref();
}

/**
 * A command's own stop on Ctrl-C and SIGTERM (the early handlers released): `stop` is called once, with the first
 * signal; a second Ctrl-C quits at once (exit 130), a repeated SIGTERM does nothing more — `timeout N autoprune …`
 * delivers its SIGTERM twice (to the command and to its process group), and a second one that quit at once left no
 * resume line, no --json error event and the run's lock behind (a new user's runs under timeout, 5 of 12). Returns the
 * function that removes the handlers.
 */
export function onStopSignals(stop: (signal: 'SIGINT' | 'SIGTERM') => void): () => void {
  let interrupts = 0;
  let stopped = false;
  const handle = (signal: 'SIGINT' | 'SIGTERM') => {
    if (signal === 'SIGINT' && ++interrupts > 1) process.exit(130);
    if (stopped) return;
    stopped = true;
    stop(signal);
  };
  const onSigint = () => handle('SIGINT');
  const onSigterm = () => handle('SIGTERM');
  releaseEarlySignals();
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  };
}

export function releaseEarlySignals(): void {
  if (!early) return;
  process.off('SIGINT', early);
  process.off('SIGTERM', early);
  early = undefined;
}
