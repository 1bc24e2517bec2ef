import { UsageError } from '../errors.js';

/** The queue URL, checked: redis:// or rediss:// with a host. */
export function checkQueueUrl(url: string): string {
  let u: URL;
  try { u = new URL(url); } catch { throw new UsageError(`--queue '${url}' is not a URL; expected redis://HOST:PORT`); }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--queue '${url}' is not a Redis URL; expected redis://HOST:PORT (BullMQ on Redis)`);
  if (!u.hostname) throw new UsageError(`--queue '${url}' names no host; expected redis://HOST:PORT`);
  // A database number after the port (redis://HOST:PORT/5): a whole number, or Redis's SELECT fails with a stack trace.
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new UsageError(`--queue '${url}': the database '${db}' after the port is not a whole number; expected redis://HOST:PORT or redis://HOST:PORT/DB`);
  return url;
}

/** The database number a queue URL names (0 where it names none). */
export function queueDb(url: string): number {
  const db = new URL(url).pathname.replace(/^\//, '');
  return db === '' ? 0 : Number(db);
}

