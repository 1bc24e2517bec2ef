/**
 * `autoprune/sparse`: read and write the sparse model files (`model.sparse`, `model.int8.sparse`) that
 * `autoprune --compact` and `autoprune compact` write: `decodeSparse(bytes)` rebuilds the tfjs LayersModel,
 * `inspectSparse(bytes)` reads the header only. Format: docs/compaction.md.
 */
export { decodeSparse, encodeSparse, inspectSparse, sizeReport, SPARSE_MAGIC, SPARSE_VERSION } from './pruning/sparse-format.js';
export type { EncodeSparseOptions, SparseHeader, SparseWeightEntry, SizeReport } from './pruning/sparse-format.js';
