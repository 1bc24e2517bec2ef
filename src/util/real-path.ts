import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** The real path of `p` (symlinks resolved), also when its last parts do not exist yet. */
export function realPathOf(p: string): string {
  const abs = resolve(p);
  let head = abs;
  const rest: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) break;
    rest.unshift(basename(head));
    head = up;
  }
  let real = head;
  try { real = realpathSync(head); } catch { /* a dangling link: keep the path as given */ }
  return rest.length ? join(real, ...rest) : real;
}
