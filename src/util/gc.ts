/**
 * A full garbage collection on request. A scoring pass over a large model reads each layer's weights,
 * gradient sums and ranks to the host in chunks and hands scores and masks back and forth: typed arrays over
 * memory V8 barely counts towards its heap, so on a model of millions of weights several passes' worth of
 * them can wait for a collection and add tens of bytes per weight to the peak (docs/benchmarks.md, scale).
 * The agent collects after each pass on such models; the pass itself takes seconds there, a collection
 * milliseconds. Node exposes `gc` only with --expose-gc: the flag is set at run time and the function taken
 * from a fresh context (a documented V8 flag; where it fails, collection is left to V8).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined | null = null;

export function collectGarbage(): void {
  if (gc === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = undefined;
    }
  }
  gc?.();
}
