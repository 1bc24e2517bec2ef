import { makeDirs } from '../util/make-dirs.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetaModelInfo } from './format.js';

/**
 * A zoo model's finished meta-dataset rows, cached beside its trained weights so that an interrupted
 * or extended `build-meta` (a new zoo model, another family) does not rerun the oracle of models it
 * already finished. The key is everything that changes the rows: oracle settings, sampled stages,
 * sampling size, calibration size and the feature schema.
 */
export interface CachedRows {
  info: Omit<MetaModelInfo, 'index'>;
  data: Float32Array;
}

const ROWS_CACHE_FORMAT = 1;

function files(modelDir: string, key: object): { json: string; bin: string } {
  const h = createHash('sha256').update(JSON.stringify({ format: ROWS_CACHE_FORMAT, key })).digest('hex').slice(0, 12);
  return { json: join(modelDir, `rows-${h}.json`), bin: join(modelDir, `rows-${h}.bin`) };
}

/** Writes the rows, then their info (the info file's presence marks a complete entry). */
export function saveModelRows(modelDir: string, key: object, rows: CachedRows): void {
  const f = files(modelDir, key);
  makeDirs(modelDir);
  const bytes = Buffer.from(rows.data.buffer, rows.data.byteOffset, rows.data.byteLength);
  writeFileAtomicSync(f.bin, bytes);
  writeFileAtomicSync(f.json, JSON.stringify({ key, bytes: bytes.length, info: rows.info }));
}

/** The cached rows for this key, or undefined when absent or incomplete (a size mismatch is a miss). */
export function loadModelRows(modelDir: string, key: object): CachedRows | undefined {
  const f = files(modelDir, key);
  if (!existsSync(f.json) || !existsSync(f.bin)) return undefined;
  const meta = JSON.parse(readFileSync(f.json, 'utf8')) as { bytes: number; info: CachedRows['info'] };
  const buf = readFileSync(f.bin);
  if (buf.length !== meta.bytes || buf.length % 4 !== 0) return undefined;
  const data = new Float32Array(buf.length / 4);
  new Uint8Array(data.buffer).set(buf);
  return { info: meta.info, data };
}
