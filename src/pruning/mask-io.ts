import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ModelError } from '../errors.js';
import { realPathOf } from '../util/real-path.js';
import { readRegularFile } from '../util/regular-file.js';
import { isFrozenKernel, type PrunableModel } from './prunable-model.js';

/** File name of the masks saved beside a model. */
export const MASKS_FILE = 'masks.json';

/** masks.json: one bit-packed 0/1 mask per prunable kernel (row-major, LSB first, base64). */
export interface MaskFile {
  format: 'autoprune-masks';
  version: 1;
  layers: { name: string; shape: number[]; pruned: number; bits: string }[];
  /** Kernels the run was told to leave alone (exclude option): they have no entry and keep their weights. */
  excluded?: string[];
  /** Kernels of frozen layers (trainable: false), left dense by the agent: no entry, weights kept. */
  frozen?: string[];
}

export function masksToJson(pm: PrunableModel): MaskFile {
  const arrays = pm.maskArrays();
  return {
    format: 'autoprune-masks',
    version: 1,
    layers: pm.layers.map((l, i) => {
      const m = arrays[i];
      const bytes = new Uint8Array(Math.ceil(m.length / 8));
      let pruned = 0;
      for (let j = 0; j < m.length; j++) {
        if (m[j] !== 0) bytes[j >> 3] |= 1 << (j & 7);
        else pruned++;
      }
      return { name: l.name, shape: l.shape, pruned, bits: Buffer.from(bytes).toString('base64') };
    }),
    ...(pm.excluded.length > 0 ? { excluded: pm.excluded.map((k) => k.name) } : {}),
    ...(pm.frozen.length > 0 ? { frozen: pm.frozen.map((k) => k.name) } : {}),
  };
}

/** Applies masks.json content to a model's prunable layers (matched by name and shape). */
export function applyMaskJson(pm: PrunableModel, file: MaskFile, where = MASKS_FILE, o: { matchWeights?: boolean } = {}): void {
  if (file?.format !== 'autoprune-masks' || file.version !== 1 || !Array.isArray(file.layers)) {
    throw new ModelError(`'${where}' is not an autoprune masks file (format autoprune-masks, version 1)`);
  }
  // Each layer once, its count of pruned weights what its bits say (an edited file is refused, not half believed).
  const names = new Set<string>();
  for (const e of file.layers) {
    if (e == null || typeof e.name !== 'string' || typeof e.bits !== 'string' || !Array.isArray(e.shape)) throw new ModelError(`'${where}': a layer entry without a name, shape or bits`);
    if (names.has(e.name)) throw new ModelError(`'${where}' lists layer '${e.name}' twice`);
    names.add(e.name);
  }
  // … and every entry a kernel this model prunes (an entry for another model's layer is a file of another model).
  const known = new Set(pm.layers.map((l) => l.name));
  const foreign = [...names].filter((n) => !known.has(n));
  if (foreign.length > 0) {
    throw new ModelError(`'${where}' has a mask for layer${foreign.length > 1 ? 's' : ''} ${foreign.slice(0, 3).map((n) => `'${n}'`).join(', ')}${foreign.length > 3 ? ', …' : ''} that this model has no prunable kernel of: the file belongs to another model` +
      (pm.layers.length > 0 ? ` (its prunable kernels: ${pm.layers.slice(0, 5).map((l) => l.name).join(', ')}${pm.layers.length > 5 ? ', …' : ''})` : ''));
  }
  const current = pm.maskArrays();
  const arrays = pm.layers.map((l, i) => {
    const entry = file.layers.find((e) => e.name === l.name);
    // An excluded kernel keeps what it has (its own zeros, if any); so does a frozen one, which the agent leaves dense
    // (listed as such since 2026-12-05; a file written before says nothing, and the layer's own flag tells).
    if (!entry && (file.excluded?.includes(l.name) || file.frozen?.includes(l.name) || isFrozenKernel(l.layer, l.containers, l.kernel))) return current[i];
    if (!entry) throw new ModelError(`'${where}' has no mask for layer '${l.name}'`);
    if (entry.shape.join('x') !== l.shape.join('x')) {
      throw new ModelError(`'${where}': mask of layer '${l.name}' has shape [${entry.shape}], the kernel is [${l.shape}]`);
    }
    const bytes = Buffer.from(entry.bits, 'base64');
    if (bytes.length !== Math.ceil(l.size / 8)) throw new ModelError(`'${where}': mask of layer '${l.name}' is truncated`);
    const m = new Float32Array(l.size);
    let zeros = 0;
    for (let j = 0; j < l.size; j++) { m[j] = (bytes[j >> 3] >> (j & 7)) & 1; if (m[j] === 0) zeros++; }
    if (entry.pruned !== zeros) throw new ModelError(`'${where}': layer '${l.name}' says ${JSON.stringify(entry.pruned)} weights pruned, its bits mark ${zeros}: the file was edited or damaged`);
    return m;
  });
  if (o.matchWeights) {
    // The masks must describe these weights: a weight the file calls pruned that the model holds as nonzero means the
    // model changed after pruning (trained further), and applying the file would silently zero what it learned.
    const conflicts = pm.layers.map((l, i) => {
      let n = 0;
      for (let j = 0; j < l.size; j++) if (arrays[i][j] === 0 && current[i][j] !== 0) n++;
      return { name: l.name, n };
    }).filter((c) => c.n > 0);
    if (conflicts.length > 0) {
      const total = conflicts.reduce((a, c) => a + c.n, 0);
      throw new ModelError(`'${where}' marks ${total} weight(s) as pruned that the model holds as nonzero (${conflicts.slice(0, 3).map((c) => `${c.n} in '${c.name}'`).join(', ')}${conflicts.length > 3 ? ', …' : ''}): ` +
        'the weights were changed after pruning (trained further?), so these masks no longer describe them; prune the model again, or move the masks file away to use the weights as they are');
    }
  }
  pm.setMaskArrays(arrays);
}

/**
 * The kernels a run left out with `--exclude`, as the first masks.json in `dirs` lists them (none without one): `inspect`
 * and `compact` count the prunable kernels as that run did.
 */
export function excludedIn(dirs: readonly string[]): string[] {
  for (const dir of dirs) {
    const path = join(dir, MASKS_FILE);
    if (!existsSync(path)) continue;
    try {
      const file = JSON.parse(readOwnMasks(dir)) as MaskFile;
      return Array.isArray(file?.excluded) ? file.excluded.filter((n): n is string => typeof n === 'string') : [];
    } catch {
      return []; // loadMasksFrom says what is wrong with the file
    }
  }
  return [];
}

/**
 * The masks.json in `dir`, read as a file of that folder: one that links elsewhere (a crafted run folder's link to
 * /etc/passwd was read, and its contents named in the JSON error) or is not a regular file is refused.
 */
function readOwnMasks(dir: string): string {
  const path = join(dir, MASKS_FILE);
  const real = realPathOf(path);
  const folder = realPathOf(dir);
  if (dirname(real) !== folder) throw new ModelError(`'${path}' links outside its folder (to '${real}'): a masks file is read only as a file of the run's own folder`);
  return readRegularFile(path, 'masks file', 512 * 1024 * 1024, (m) => new ModelError(m)).toString('utf8');
}

/** Loads masks.json from a folder if present; returns whether it did. */
export function loadMasksFrom(pm: PrunableModel, dir: string): boolean {
  const path = join(dir, MASKS_FILE);
  if (!existsSync(path)) return false;
  const text = readOwnMasks(dir);
  let json: MaskFile;
  try {
    json = JSON.parse(text) as MaskFile;
  } catch {
    throw new ModelError(`'${path}' is not valid JSON`);
  }
  applyMaskJson(pm, json, path, { matchWeights: true });
  return true;
}
