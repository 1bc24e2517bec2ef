import { totalmem } from 'node:os';

/**
 * The memory this process may use: the machine's, or a container's limit where one is set (cgroups; Node's
 * `process.constrainedMemory`), whichever is less — a 4 GB container on a 256 GB host has 4 GB.
 */
export function usableMemory(): number {
  const limit = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return limit && limit > 0 ? Math.min(totalmem(), limit) : totalmem();
}
