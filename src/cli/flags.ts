import type { z } from 'zod';
import { UsageError } from '../errors.js';

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Validates parsed CLI flags once, at the edge; the first problem becomes a one-line UsageError. */
export function parseFlags<S extends z.ZodTypeAny>(schema: S, raw: Record<string, unknown>): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = String(issue.path[0] ?? '');
  const given = raw[key];
  // zod's own wording for a non-number ("Expected number, received nan") is not for users.
  const message = issue.code === 'invalid_type' && issue.expected === 'number' ? 'must be a number' : issue.message;
  throw new UsageError(`${flagName(key)} ${message}${given !== undefined ? `, got '${String(given)}'` : ''}`);
}
