/**
 * Gives the event loop one full turn, its poll phase included, so that a signal that arrived while this process
 * computed synchronously (its handler only writes to libuv's signal pipe) is dispatched now: one setImmediate runs
 * before the loop next reads the pipe, a second one after.
 */
export function signalTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
