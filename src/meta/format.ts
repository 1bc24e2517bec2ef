import { existsSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { realPathOf } from '../util/real-path.js';
import { makeDirs } from '../util/make-dirs.js';
import { endianness } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readRegularFile } from '../util/regular-file.js';
import { DataError } from '../errors.js';
import type { FeatureSchema } from '../features/types.js';

/**
 * Meta-dataset on disk: `NAME.json` (this header, human-readable) + `NAME.bin` (little-endian
 * float32, row-major, or gzip of it as `NAME.bin.gz`; one row per sampled connection: the schema's features in order, then the
 * META_COLUMNS). See datasets/README.md.
 */
export const META_FORMAT = 'autoprune-meta';
export const META_VERSION = 1;
/** Columns after the features, in order. */
export const META_COLUMNS = Object.freeze(['label', 'weight', 'model', 'layer', 'stage'] as const);

export interface MetaModelInfo {
  /** Row value of the `model` column. */
  index: number;
  id: string;
  family: string;
  /** Architecture and seed (ModelArgs). */
  args: unknown;
  /** Dense training epochs. */
  epochs: number;
  cacheKey: string;
  /** A user's model file: the hash of its model.json and weight bytes (the same trained model under any path or name). */
  modelHash?: string;
  denseValAccuracy: number;
  /** The oracle's answer at each target: winner, validation accuracy after fine-tuning, layer sparsities. */
  oracle: { target: number; sparsity: number; winner: string; valAccuracy: number; layerSparsity: number[]; candidates?: unknown }[];
  /** Prunable layer names and sizes, index = `layer` column. */
  layers: { name: string; kind: string; size: number }[];
  rows: number;
  seconds: number;
}

export interface MetaHeader {
  format: typeof META_FORMAT;
  version: number;
  family: string;
  featureSchema: { version: number; names: string[] };
  /** All columns of a row: feature names, then META_COLUMNS. */
  columns: string[];
  rows: number;
  /** File name of the row data, next to the header. */
  data: string;
  dtype: 'float32-le';
  /** Oracle targets; a row's label is the fraction of targets above its stage at which the oracle removed it. */
  targets: number[];
  /** Stages connections were sampled at (global sparsity of the model they were read from; 0 = dense). */
  stages: number[];
  sampling: { maxRowsPerLayerPerStage: number; seed: number };
  oracle: Record<string, unknown>;
  models: MetaModelInfo[];
  /** The command that built this file. */
  command: string;
  createdAt: string;
}

export interface MetaDataset {
  header: MetaHeader;
  /** Row-major float32, header.columns.length values per row. */
  data: Float32Array;
}

/** Column view of a meta-dataset (copies). */
export function metaColumn(ds: MetaDataset, name: string): Float32Array {
  const c = ds.header.columns.indexOf(name);
  if (c < 0) throw new DataError(`meta-dataset has no column '${name}'`);
  const w = ds.header.columns.length;
  const out = new Float32Array(ds.header.rows);
  for (let r = 0; r < out.length; r++) out[r] = ds.data[r * w + c];
  return out;
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new DataError('meta-datasets are little-endian float32; this machine is big-endian');
}

/** Path of the data file that belongs to a header path ('x.json' → 'x.bin', gzipped 'x.bin.gz'). */
export function metaDataPath(jsonPath: string, gzip = false): string {
  return jsonPath.replace(/\.json$/, '') + (gzip ? '.bin.gz' : '.bin');
}

/**
 * Writes header + rows; `jsonPath` must end in .json. With `gzip` the rows go to NAME.bin.gz (about
 * half the bytes: the label/model/layer/stage columns compress well). Returns the header as written.
 */
export function writeMeta(jsonPath: string, header: Omit<MetaHeader, 'data' | 'rows' | 'format' | 'version' | 'dtype'>, data: Float32Array, options: { gzip?: boolean } = {}): MetaHeader {
  assertLittleEndian();
  if (!jsonPath.endsWith('.json')) throw new DataError(`meta-dataset header path must end in .json, got '${jsonPath}'`);
  const w = header.columns.length;
  if (data.length % w !== 0) throw new DataError(`row data has ${data.length} values, not a multiple of ${w} columns`);
  const binPath = metaDataPath(jsonPath, options.gzip);
  const full: MetaHeader = {
    format: META_FORMAT, version: META_VERSION, ...header,
    rows: data.length / w, data: basename(binPath), dtype: 'float32-le',
  };
  // Key order for diffability: identity first, provenance last.
  const ordered: MetaHeader = {
    format: full.format, version: full.version, family: full.family, rows: full.rows, data: full.data, dtype: full.dtype,
    columns: full.columns, featureSchema: full.featureSchema, targets: full.targets, stages: full.stages,
    sampling: full.sampling, oracle: full.oracle, command: full.command, createdAt: full.createdAt, models: full.models,
  };
  makeDirs(dirname(jsonPath));
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // Each file written beside and renamed into place: a link at either path is replaced, never written through (a
  // symlinked or hard-linked rows file made build-meta overwrite a user's model weights and data file).
  writeFileAtomicSync(binPath, options.gzip ? gzipSync(bytes) : bytes);
  writeFileAtomicSync(jsonPath, JSON.stringify(ordered, null, 2) + '\n');
  return ordered;
}

/** Reads and checks a meta-dataset written by writeMeta. */
export function readMeta(jsonPath: string): MetaDataset {
  assertLittleEndian();
  if (!existsSync(jsonPath)) throw new DataError(`meta-dataset '${jsonPath}' does not exist (build it with autoprune build-meta)`);
  let header: MetaHeader;
  try {
    header = JSON.parse(readRegularFile(jsonPath, 'meta-dataset header', 64 * 1024 * 1024, (m) => new DataError(m)).toString('utf8')) as MetaHeader;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`meta-dataset header '${jsonPath}' is not valid JSON: ${(err as Error).message}`);
  }
  if (header?.format !== META_FORMAT) throw new DataError(`'${jsonPath}' is not an autoprune meta-dataset (format '${header?.format}')`);
  if (header.version !== META_VERSION) throw new DataError(`meta-dataset '${jsonPath}' has version ${header.version}; this autoprune reads version ${META_VERSION}`);
  // A header missing a field is named, not met later as "cannot read properties of undefined" (a new user's edit).
  for (const [field, ok] of [['featureSchema', Array.isArray(header.featureSchema?.names)], ['columns', Array.isArray(header.columns)],
    ['data', typeof header.data === 'string'], ['rows', Number.isInteger(header.rows) && header.rows >= 0]] as const) {
    if (!ok) throw new DataError(`meta-dataset '${jsonPath}' has no valid '${field}' field: rebuild it with autoprune build-meta`);
  }
  const expectCols = [...header.featureSchema.names, ...META_COLUMNS];
  if (header.columns.join(',') !== expectCols.join(',')) throw new DataError(`meta-dataset '${jsonPath}' columns do not match its feature schema`);
  // The rows file is named beside the header, by a plain file name: a header never makes autoprune read elsewhere
  // ('../../etc/passwd' was read, and named in the size error, by a tampered header).
  if (header.data === '' || basename(header.data) !== header.data || header.data === '..' || header.data === '.' || /[\\/]/.test(header.data)) {
    throw new DataError(`meta-dataset '${jsonPath}' names its rows file '${header.data.slice(0, 80)}', which is not a file name beside it: a meta-dataset keeps its rows in a file of its own folder (rebuild it with autoprune build-meta)`);
  }
  const binPath = join(dirname(jsonPath), header.data);
  // … and a link there that leads to another folder is not followed (/etc/passwd was read through one).
  if (existsSync(binPath) && dirname(realPathOf(binPath)) !== realPathOf(dirname(jsonPath))) {
    throw new DataError(`meta-dataset rows '${binPath}' link outside the header's folder (to '${realPathOf(binPath)}'): a meta-dataset's rows file is read only as a file of its own folder`);
  }
  if (!existsSync(binPath)) {
    throw new DataError(`meta-dataset '${jsonPath}' keeps its rows in '${header.data}', which is not beside it (looked for ${resolve(binPath)}): ` +
      'a meta-dataset is its .json and that rows file together: copy or move both');
  }
  let buf = readRegularFile(binPath, 'meta-dataset rows file', 2 ** 32 - 1, (m) => new DataError(m));
  if (header.data.endsWith('.gz')) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new DataError(`meta-dataset rows '${binPath}' are not valid gzip: ${(err as Error).message}`);
    }
  }
  const w = header.columns.length;
  if (buf.byteLength !== header.rows * w * 4) {
    throw new DataError(`meta-dataset rows '${binPath}' have ${buf.byteLength} bytes; the header promises ${header.rows} rows × ${w} float32`);
  }
  const data = new Float32Array(header.rows * w);
  new Uint8Array(data.buffer).set(buf);
  // A value that is not a number would hang the tree's split search (a new user's NaN: 100 % CPU, deaf to signals).
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new DataError(`meta-dataset rows '${binPath}': row ${Math.floor(bad / w)}, column '${header.columns[bad % w]}' holds ${data[bad]}; every value must be a finite number (rebuild it with autoprune build-meta)`);
  }
  return { header, data };
}

/** The schema a meta-dataset was built with. */
export function metaSchema(ds: MetaDataset): FeatureSchema {
  return { version: ds.header.featureSchema.version, names: ds.header.featureSchema.names };
}
