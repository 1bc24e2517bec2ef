import { UsageError } from '../errors.js';

/** The queue URL, checked: redis:// or rediss:// with a host. */
export function checkQueueUrl(url: string): string {
  let u: URL;
  try { u = new URL(url); } catch { throw new UsageError(`--queue '${url}' is not a URL; expected redis://HOST:PORT`); }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--queue '${url}' is not a Redis URL; expected redis://HOST:PORT (BullMQ on Redis)`);
  if (!u.hostname) throw new UsageError(`--queue '${url}' names no host; expected redis://HOST:PORT`);
  return url;
}

