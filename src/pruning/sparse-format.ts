/**
 * The autoprune sparse model file: the Deep Compression recipe (Han et al. 2016, minus Huffman
 * coding) for a pruned tfjs LayersModel. Each kernel (any layer type) with enough zeros is stored as the
 * positions of its non-zero weights (a bitmask or varint index gaps, whichever is smaller) plus the packed
 * non-zero values, as float32 or — top-level Dense/Conv2D kernels with `int8` — as int8 with one symmetric
 * linear scale per output unit. Everything else (biases, batch-norm statistics, …) is raw float32. A CRC-32 over the whole file makes a corrupt or
 * truncated file a ModelError, never a silently different model. Byte layout: docs/compaction.md.
 */
import type * as TF from '@tensorflow/tfjs';
import { deflateRawSync, gzipSync, inflateRawSync } from 'node:zlib';
import { tf } from '../backend/tf.js';
import { ModelError } from '../errors.js';
import { quietInitializers } from '../util/quiet-initializers.js';

/** First bytes of every sparse file: 'APSF'. */
export const SPARSE_MAGIC = Uint8Array.of(0x41, 0x50, 0x53, 0x46);
export const SPARSE_VERSION = 1;
const FIXED = 20;
const FLAG_INT8 = 1;

export interface EncodeSparseOptions {
  /** Quantise the surviving kernel weights to int8 (one scale per output unit). Default false. */
  int8?: boolean;
}

/** One stored weight, in the order of `layer.weights`. */
export type SparseWeightEntry =
  | { layer: string; index: number; shape: number[]; enc: 'raw'; bytes: number }
  | {
    layer: string; index: number; shape: number[]; enc: 'sparse';
    /** How the positions of the non-zeros are stored. */
    positions: 'bitmask' | 'deltas';
    nnz: number;
    posBytes: number;
    values: 'float32' | 'int8';
    /** Values bytes: nnz·4 (float32), or units·4 (scales) + nnz (int8). */
    valBytes: number;
  };

/** The file's (deflated) JSON header. */
export interface SparseHeader {
  format: 'autoprune-sparse';
  version: number;
  /** Keras-style model topology, as in model.json's modelTopology. */
  modelTopology: unknown;
  weights: SparseWeightEntry[];
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, the one zip and gzip use).

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crcUpdate(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}

/** CRC-32 of a file with its checksum field (bytes 12..15) read as zeros. */
function fileCrc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  c = crcUpdate(c, bytes.subarray(0, 12));
  c = crcUpdate(c, new Uint8Array(4));
  c = crcUpdate(c, bytes.subarray(16));
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Positions: bitmask or LEB128 varint gaps.

function bitmaskOf(values: Float32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) out[i >> 3] |= 1 << (i & 7);
  return out;
}

function deltasOf(values: Float32Array): Uint8Array {
  const out: number[] = [];
  let prev = -1;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0) continue;
    let gap = i - prev - 1;
    prev = i;
    while (gap >= 0x80) {
      out.push((gap & 0x7f) | 0x80);
      gap >>>= 7;
    }
    out.push(gap);
  }
  return Uint8Array.from(out);
}

function positionsFrom(e: Extract<SparseWeightEntry, { enc: 'sparse' }>, bytes: Uint8Array, size: number, where: string): Int32Array {
  const pos = new Int32Array(e.nnz);
  let n = 0;
  if (e.positions === 'bitmask') {
    if (bytes.length !== Math.ceil(size / 8)) throw corrupt(where, `bitmask of '${e.layer}' has the wrong length`);
    for (let i = 0; i < size; i++) {
      if ((bytes[i >> 3] >> (i & 7)) & 1) {
        if (n >= e.nnz) throw corrupt(where, `bitmask of '${e.layer}' has more than ${e.nnz} set bits`);
        pos[n++] = i;
      }
    }
  } else {
    let prev = -1;
    let p = 0;
    while (p < bytes.length) {
      let gap = 0;
      let shift = 0;
      for (;;) {
        if (p >= bytes.length || shift > 28) throw corrupt(where, `index gaps of '${e.layer}' are malformed`);
        const b = bytes[p++];
        gap += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80)) break;
      }
      const idx = prev + 1 + gap;
      if (idx >= size || n >= e.nnz) throw corrupt(where, `index gaps of '${e.layer}' point outside its kernel`);
      pos[n++] = idx;
      prev = idx;
    }
  }
  if (n !== e.nnz) throw corrupt(where, `'${e.layer}' lists ${n} non-zero positions, the header says ${e.nnz}`);
  return pos;
}

function corrupt(where: string, what: string): ModelError {
  return new ModelError(`sparse model file '${where}' is corrupt: ${what}; re-export it with 'autoprune compact'`);
}

// ---------------------------------------------------------------------------------------------

/** Kernels of every layer type (Dense, Conv*, depthwise/pointwise, recurrent, Embedding; nested layers included) are stored sparse. */
function isKernel(w: TF.LayerVariable): boolean {
  return /(kernel|embeddings)(_\d+)?$/.test(w.originalName ?? w.name);
}

/** int8 (one scale per output unit, the last axis) only where the last axis is the output unit: top-level Dense/Conv2D kernels. */
function int8Able(layer: TF.layers.Layer, w: TF.LayerVariable): boolean {
  const cls = layer.getClassName();
  return (cls === 'Dense' || cls === 'Conv2D') && /kernel/.test(w.originalName ?? w.name);
}

function le32(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
  return out;
}

function fromLe32(bytes: Uint8Array): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** Symmetric int8 quantisation of the non-zeros, one scale (max |w| / 127) per output unit. */
function quantise(values: Float32Array, units: number): Uint8Array {
  const scales = new Float32Array(units);
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > scales[i % units]) scales[i % units] = a;
  }
  for (let u = 0; u < units; u++) scales[u] /= 127;
  const nnz = values.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
  const q = new Int8Array(nnz);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0) continue;
    const s = scales[i % units];
    q[n++] = Math.max(-127, Math.min(127, Math.round(values[i] / s)));
  }
  const out = new Uint8Array(units * 4 + nnz);
  out.set(le32(scales), 0);
  out.set(new Uint8Array(q.buffer), units * 4);
  return out;
}

/**
 * Encodes a model (pruned weights exactly 0) as an autoprune sparse file. Kernels of every layer type are
 * stored sparsely where that is smaller; with `int8` the surviving values of top-level Dense/Conv2D kernels are
 * quantised (other kernels' and biases stay float32).
 */
export function encodeSparse(model: TF.LayersModel, opts: EncodeSparseOptions = {}): Uint8Array {
  const int8 = opts.int8 ?? false;
  const entries: SparseWeightEntry[] = [];
  const blobs: Uint8Array[] = [];
  for (const layer of model.layers) {
    layer.weights.forEach((w, index) => {
      const t = w.read();
      if (t.dtype !== 'float32') throw new ModelError(`weight '${w.name}' of layer '${layer.name}' is ${t.dtype}; the sparse format stores float32 weights`);
      const values = t.dataSync() as Float32Array;
      const shape = t.shape.slice();
      const raw = (): void => {
        const bytes = le32(values);
        entries.push({ layer: layer.name, index, shape, enc: 'raw', bytes: bytes.length });
        blobs.push(bytes);
      };
      if (!isKernel(w)) return raw();
      const bitmask = bitmaskOf(values);
      const deltas = deltasOf(values);
      const pos = deltas.length < bitmask.length ? deltas : bitmask;
      const nz = values.filter((v) => v !== 0);
      // int8 costs a float32 scale per output unit, dead units included: a kernel with fewer non-zeros than that
      // saves stays float32 (the int8 file is never larger than the float32 one).
      const exact = le32(nz);
      const quantised = int8 && int8Able(layer, w) ? quantise(values, shape[shape.length - 1]) : undefined;
      const q = quantised != null && quantised.length < exact.length;
      const vals = q ? quantised : exact;
      // A kernel with (almost) no zeros is smaller whole, as float32 (never as int8: its values stay exact).
      if (!q && pos.length + vals.length >= 4 * values.length) return raw();
      entries.push({
        layer: layer.name, index, shape, enc: 'sparse', positions: pos === deltas ? 'deltas' : 'bitmask',
        nnz: nz.length, posBytes: pos.length, values: q ? 'int8' : 'float32', valBytes: vals.length,
      });
      blobs.push(pos, vals);
    });
  }
  const header: SparseHeader = {
    format: 'autoprune-sparse', version: SPARSE_VERSION, modelTopology: model.toJSON(undefined, false), weights: entries,
  };
  // The topology is repetitive JSON; deflating it matters for small models.
  const json = deflateRawSync(new TextEncoder().encode(JSON.stringify(header)), { level: 9 });
  const total = FIXED + json.length + blobs.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(SPARSE_MAGIC, 0);
  dv.setUint16(4, SPARSE_VERSION, true);
  dv.setUint16(6, int8 ? FLAG_INT8 : 0, true);
  dv.setUint32(8, total, true);
  dv.setUint32(16, json.length, true);
  out.set(json, FIXED);
  let p = FIXED + json.length;
  for (const b of blobs) {
    out.set(b, p);
    p += b.length;
  }
  dv.setUint32(12, fileCrc(out), true);
  return out;
}

/** Checks the fixed header, length and checksum; returns the parsed JSON header and where blobs start. */
function readHeader(bytes: Uint8Array, where: string): { header: SparseHeader; start: number; int8: boolean } {
  if (bytes.length < FIXED || SPARSE_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ModelError(`'${where}' is not an autoprune sparse model file (it does not start with 'APSF')`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  const total = dv.getUint32(8, true);
  if (total !== bytes.length) {
    throw corrupt(where, `it is ${bytes.length} bytes long but should be ${total} (truncated or padded)`);
  }
  if (dv.getUint32(12, true) !== fileCrc(bytes)) throw corrupt(where, 'checksum mismatch');
  if (version !== SPARSE_VERSION) {
    throw new ModelError(`sparse model file '${where}' has format version ${version}; this autoprune reads version ${SPARSE_VERSION}`);
  }
  const flags = dv.getUint16(6, true);
  const jsonLen = dv.getUint32(16, true);
  if (FIXED + jsonLen > bytes.length) throw corrupt(where, 'header length points past the end');
  let header: SparseHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(inflateRawSync(bytes.subarray(FIXED, FIXED + jsonLen)))) as SparseHeader;
  } catch {
    throw corrupt(where, 'header is not deflated JSON');
  }
  if (header?.format !== 'autoprune-sparse' || !Array.isArray(header.weights) || !header.modelTopology) {
    throw corrupt(where, 'header is not an autoprune-sparse header');
  }
  return { header, start: FIXED + jsonLen, int8: (flags & FLAG_INT8) !== 0 };
}

/**
 * Checks a sparse file (magic, length, checksum, version) and returns its header — topology and
 * per-weight encodings — without building a model. Throws ModelError like decodeSparse.
 */
export function inspectSparse(bytes: Uint8Array, where = 'model.sparse'): SparseHeader & { int8: boolean } {
  const { header, int8 } = readHeader(bytes, where);
  return { ...header, int8 };
}

/** Decodes one weight entry's blob into dense float32 values. */
function decodeEntry(e: SparseWeightEntry, bytes: Uint8Array, p: number, where: string): { values: Float32Array; next: number } {
  const size = e.shape.reduce((a, b) => a * b, 1);
  if (e.enc === 'raw') {
    if (e.bytes !== size * 4 || p + e.bytes > bytes.length) throw corrupt(where, `weight ${e.index} of '${e.layer}' has the wrong size`);
    return { values: fromLe32(bytes.subarray(p, p + e.bytes)), next: p + e.bytes };
  }
  const units = e.shape[e.shape.length - 1];
  const wantVal = e.values === 'int8' ? units * 4 + e.nnz : e.nnz * 4;
  if (e.enc !== 'sparse' || e.valBytes !== wantVal || e.nnz > size || p + e.posBytes + e.valBytes > bytes.length) {
    throw corrupt(where, `kernel of '${e.layer}' has inconsistent sizes`);
  }
  const pos = positionsFrom(e, bytes.subarray(p, p + e.posBytes), size, where);
  const vb = bytes.subarray(p + e.posBytes, p + e.posBytes + e.valBytes);
  const values = new Float32Array(size);
  if (e.values === 'float32') {
    const nz = fromLe32(vb);
    for (let i = 0; i < pos.length; i++) values[pos[i]] = nz[i];
  } else {
    const scales = fromLe32(vb.subarray(0, units * 4));
    const q = new Int8Array(vb.buffer, vb.byteOffset + units * 4, e.nnz);
    for (let i = 0; i < pos.length; i++) values[pos[i]] = q[i] * scales[pos[i] % units];
  }
  return { values, next: p + e.posBytes + e.valBytes };
}

/**
 * Restores a tfjs LayersModel from a sparse file's bytes. Throws ModelError naming `where` when the
 * file is not a sparse file, is corrupt or truncated, or does not match its own topology.
 */
export async function decodeSparse(bytes: Uint8Array, where = 'model.sparse'): Promise<TF.LayersModel> {
  const { header, start } = readHeader(bytes, where);
  const perLayer = new Map<string, Float32Array[]>();
  const shapes = new Map<string, number[][]>();
  let p = start;
  for (const e of header.weights) {
    const { values, next } = decodeEntry(e, bytes, p, where);
    p = next;
    if (!perLayer.has(e.layer)) { perLayer.set(e.layer, []); shapes.set(e.layer, []); }
    perLayer.get(e.layer)![e.index] = values;
    shapes.get(e.layer)![e.index] = e.shape;
  }
  if (p !== bytes.length) throw corrupt(where, `${bytes.length - p} bytes after the last weight`);
  let model: TF.LayersModel;
  try {
    model = await quietInitializers(() => tf.models.modelFromJSON({ modelTopology: header.modelTopology as TF.io.ModelJSON['modelTopology'] }));
  } catch (err) {
    throw new ModelError(`sparse model file '${where}': cannot build its model topology: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    tf.tidy(() => {
      for (const layer of model.layers) {
        if (layer.weights.length === 0) continue;
        const vals = perLayer.get(layer.name);
        const sh = shapes.get(layer.name);
        if (!vals || !sh || vals.length !== layer.weights.length) {
          throw new ModelError(`sparse model file '${where}' has no (or not all) weights for layer '${layer.name}'`);
        }
        layer.weights.forEach((w, i) => {
          if (!vals[i] || sh[i].join('x') !== w.shape.join('x')) {
            throw new ModelError(`sparse model file '${where}': weight ${i} of layer '${layer.name}' has shape [${sh[i]}], the topology says [${w.shape}]`);
          }
        });
        layer.setWeights(vals.map((v, i) => tf.tensor(v, sh[i], 'float32')));
      }
    });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** Bytes of a pruned model in each storage form. */
export interface SizeReport {
  /** All weights as float32 (the dense model's weights.bin). */
  denseFloat32: number;
  /** The masked model's weights.bin: the same bytes, zeros stored as zeros. */
  maskedRaw: number;
  /** That weights.bin gzipped (node:zlib, default level). */
  maskedGzip: number;
  /** The compact model's weights.bin, when one is given. */
  compact?: number;
  /** The sparse file, float32 values (topology included). */
  sparse: number;
  /** The sparse file with int8 values (topology included). */
  sparseInt8: number;
}

/** Sizes in bytes of a pruned model (pruned weights exactly 0) stored dense, gzipped, compact and sparse. */
export function sizeReport(model: TF.LayersModel, opts: { compact?: TF.LayersModel } = {}): SizeReport {
  const parts = model.weights.map((w) => le32(w.read().dataSync() as Float32Array));
  const raw = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let p = 0;
  for (const b of parts) { raw.set(b, p); p += b.length; }
  const paramBytes = (m: TF.LayersModel) => 4 * m.weights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
  return {
    denseFloat32: raw.length,
    maskedRaw: raw.length,
    maskedGzip: gzipSync(raw).length,
    ...(opts.compact ? { compact: paramBytes(opts.compact) } : {}),
    sparse: encodeSparse(model).length,
    sparseInt8: encodeSparse(model, { int8: true }).length,
  };
}
