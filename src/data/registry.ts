import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { refuseUnknownKeys } from '../util/unknown-keys.js';
import { loadCsv, type CsvTargets } from './csv.js';
import type { Dataset } from './dataset.js';
import { loadMnist10k } from './mnist.js';
import { loadSynthetic } from './synthetic.js';

export interface LoadDatasetOptions {
  /** Seed of the shuffle (and, for CSV, of the split). Default 0. */
  seed?: number;
  /** CSV only: label column(s), header names or 0-based indices (k target columns: k of them). Default: the last column(s). */
  label?: string | readonly string[];
  /** CSV only: columns that are neither inputs nor targets (IDs, names, dates), header names or 0-based indices. */
  ignoreColumns?: readonly string[];
  /** CSV only: [train, val, test] fractions. Default [0.8, 0.1, 0.1]. */
  split?: readonly [number, number, number];
  /** CSV only: separate validation file. */
  valPath?: string;
  /** CSV only: separate test file. */
  testPath?: string;
  /** CSV only: z-score the features with the training split's statistics. Default true (false with `inputScale`). */
  standardize?: boolean;
  /** CSV only: multiply every input value by this factor (1/255 for pixels 0–255 of a model trained on [0, 1]); not with `standardize`. */
  inputScale?: number;
  /** CSV only: the label names in the order of the model's outputs (default: sorted). */
  labelOrder?: readonly string[];
  /** CSV only: what the targets are — one class label column (default), the last k columns' values, or the inputs (see CsvOptions). */
  targets?: CsvTargets;
}

export type DatasetLoader = (options: LoadDatasetOptions) => Dataset;

/** Whether a data spec names a CSV file (else a built-in dataset). */
/**
 * A delimited text file (comma, semicolon or tab: the delimiter is detected): a .csv, .tsv, .tab or .txt path, or
 * any other existing file that is not a built-in data set's name.
 */
const DATA_FILE = /\.(csv|tsv|tab|txt)$/i;
export const isCsvPath = (spec: string): boolean => {
  const s = spec.trim();
  if (DATA_FILE.test(s)) return true;
  if (Object.prototype.hasOwnProperty.call(DATASETS, s.toLowerCase())) return false;
  try { return statSync(s).isFile(); } catch { return false; }
};

const isDirectory = (path: string): boolean => { try { return statSync(path).isDirectory(); } catch { return false; } };

/** What to give instead of a folder: the data files it holds (the first few, by name), or that it holds none. */
function dataFilesIn(folder: string): string {
  let names: string[];
  try {
    names = readdirSync(folder).filter((f) => DATA_FILE.test(f)).sort();
  } catch {
    return 'give the data file itself';
  }
  if (!names.length) return 'it holds no data file (.csv, .tsv, .tab or .txt): give the path of one';
  const shown = names.slice(0, 3).join(', ');
  return `give one of its data files (e.g. --data ${join(folder, names[0])}; it holds ${names.length === 1 ? shown : `${names.length}: ${shown}${names.length > 3 ? ', …' : ''}`})`;
}
const existsAtAll = (path: string): boolean => { try { statSync(path); return true; } catch { return false; } };

/** Built-in datasets by name. */
export const DATASETS: Readonly<Record<string, DatasetLoader>> = Object.freeze({
  'mnist-10k': (o: LoadDatasetOptions) => loadMnist10k({ seed: o.seed }),
  synthetic: (o: LoadDatasetOptions) => loadSynthetic({ seed: o.seed }),
});

/** The CLI flag of each CSV-only option, for error messages. */
const CSV_FLAGS = Object.freeze({ label: '--label', ignoreColumns: '--ignore-columns', split: '--split', valPath: '--val-data', testPath: '--test-data', standardize: '--standardize', inputScale: '--input-scale' });

const ALIASES: Readonly<Record<string, string>> = Object.freeze({ mnist: 'mnist-10k' });

/** Every option loadDataset takes (checked against LoadDatasetOptions by the compiler). */
const DATASET_OPTION_KEYS: Record<keyof LoadDatasetOptions, true> = {
  seed: true, label: true, ignoreColumns: true, split: true, valPath: true, testPath: true, standardize: true, inputScale: true, labelOrder: true, targets: true,
};

/**
 * A dataset by name ('mnist-10k' or 'mnist', 'synthetic') or by the path of a .csv file. Throws DataError
 * for an unknown name, and UsageError when CSV-only options (label, split, separate files) are given for
 * a built-in dataset, whose split is fixed.
 */
export function loadDataset(spec: string, options: LoadDatasetOptions = {}): Dataset {
  if (options == null || typeof options !== 'object') throw new UsageError('loadDataset: options must be an object, e.g. { label: \'species\' }');
  // loadCsv's and autoprune()'s names for the same options, said where a user brings them here.
  refuseUnknownKeys(options, Object.keys(DATASET_OPTION_KEYS), 'loadDataset', { ignore: 'ignoreColumns', valData: 'valPath', testData: 'testPath', splitSeed: 'seed' });
  if (typeof spec !== 'string') throw new UsageError(`loadDataset needs a dataset name or a CSV path, got '${String(spec)}'`);
  const name = spec.trim();
  const key = ALIASES[name.toLowerCase()] ?? name.toLowerCase();
  if (Object.hasOwn(DATASETS, key)) {
    const csvOnly = (['label', 'ignoreColumns', 'split', 'valPath', 'testPath', 'standardize', 'inputScale'] as const).filter((k) => options[k] != null);
    if (csvOnly.length) {
      throw new UsageError(`${csvOnly.map((k) => CSV_FLAGS[k]).join(', ')} ${csvOnly.length > 1 ? 'apply' : 'applies'} only to CSV data; '${name}' is built in with a fixed split`);
    }
    return DATASETS[key](options);
  }
  if (isCsvPath(name)) {
    return loadCsv({
      path: name, valPath: options.valPath, testPath: options.testPath,
      label: options.label, ignore: options.ignoreColumns, split: options.split, seed: options.seed, standardize: options.standardize, inputScale: options.inputScale,
      labelOrder: options.labelOrder, targets: options.targets,
    });
  }
  if (isDirectory(name)) {
    throw new DataError(`data '${spec}' is a folder, not a data file: ${dataFilesIn(name)}; built in: ${Object.keys(DATASETS).join(', ')}`);
  }
  if (existsAtAll(name)) throw new DataError(`data file '${spec}' is not a regular file (a device, pipe or socket)`);
  throw new DataError(`unknown dataset '${spec}' (no such file); use one of: ${Object.keys(DATASETS).join(', ')}, or the path of a data file (.csv, .tsv or .txt; comma, semicolon or tab separated)`);
}
