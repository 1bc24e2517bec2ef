/** Aborted when stdout's reader went away (EPIPE): the CLI stops writing there and a running prune stops (resumable). */
export const stdoutClosed = new AbortController();
