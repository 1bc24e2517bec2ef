import { readFileSync, statSync } from 'node:fs';

/**
 * Reads a file the user named only where it is a regular file of at most `maxBytes`: a device (a link to /dev/zero)
 * would be read until memory runs out, a FIFO would block the open forever (deaf to SIGTERM). `fail` makes the
 * command's own error (its class carries the exit code) from a one-line reason. Returns the bytes.
 */
export function readRegularFile(path: string, what: string, maxBytes: number, fail: (message: string) => Error): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw fail(e.code === 'ENOENT' ? `${what} '${path}' does not exist` : `cannot read ${what} '${path}' (${e.code ?? e.message})`);
  }
  if (!st.isFile()) throw fail(`${what} '${path}' is not a regular file (a device, pipe or folder)`);
  if (st.size > maxBytes) throw fail(`${what} '${path}' is ${st.size} bytes, more than the ${maxBytes} a ${what} can be`);
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw fail(`cannot read ${what} '${path}' (${e.code ?? e.message})`);
  }
}
