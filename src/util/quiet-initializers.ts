/**
 * Building a model from its config without its weights (compaction, decoding a sparse file) runs every
 * layer's initialiser only for the weights to be overwritten, and tfjs's orthogonal one (an LSTM's recurrent
 * kernel) warns on the console about its size each time. Those warnings are held back here; any other is passed on.
 */
const INITIALIZER_NOISE = /initializer is being called on a matrix with more than/;

function filtered(warn: typeof console.warn): typeof console.warn {
  return (...args: unknown[]) => { if (!INITIALIZER_NOISE.test(String(args[0]))) warn(...args); };
}

export function quietInitializersSync<T>(f: () => T): T {
  const warn = console.warn;
  console.warn = filtered(warn);
  try {
    return f();
  } finally {
    console.warn = warn;
  }
}

export async function quietInitializers<T>(f: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = filtered(warn);
  try {
    return await f();
  } finally {
    console.warn = warn;
  }
}
