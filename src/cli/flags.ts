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
  const message = userMessage(issue);
  // Our own refinements often quote the value already: it is not repeated. (Quoted: a bare '0' or '' is in any message.)
  const quoted = given !== undefined && (message.includes(`'${String(given)}'`) || message.includes(`got ${String(given)}`));
  throw new UsageError(`${flagName(key)} ${message}${given !== undefined && !quoted ? `, got '${String(given)}'` : ''}`);
}

/** zod's wording ("Invalid enum value. Expected …, received …", "Number must be less than …") in a user's terms. */
function userMessage(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_enum_value':
      return `must be one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`;
    case 'too_small':
      return issue.type === 'number' ? `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`
        : issue.type === 'string' && Number(issue.minimum) === 1 && /^String must contain at least/.test(issue.message) ? 'must not be empty'
        : issue.message;
    case 'too_big':
      return issue.type === 'number' ? `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}` : issue.message;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.multipleOf)}`;
    default:
      return issue.message;
  }
}
