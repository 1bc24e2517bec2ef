import { readFileSync, statSync } from 'node:fs';
import { usableMemory } from '../util/memory.js';
import { basename } from 'node:path';
import { tf } from '../backend/tf.js';
import { DataError, UsageError } from '../errors.js';
import { refuseUnknownKeys } from '../util/unknown-keys.js';
import { Rng } from '../util/random.js';
import { LABEL_LIKE_NAMES, looksLikeRegressionTarget, type Dataset, type Split, type SplitOrigin } from './dataset.js';

export interface CsvOptions {
  /** Training data file, or the only file when validation/test data are split from it. */
  path: string;
  /** Separate validation file with the same columns. Default: split from `path`. */
  valPath?: string;
  /** Separate test file with the same columns. Default: split from `path`. */
  testPath?: string;
  /**
   * Label column: a header name or a 0-based index of the file (a number or a string of digits); with k target
   * columns (`targets` a number) k of them, in the order of the model's outputs. Default: the last column(s).
   */
  label?: ColumnRef | readonly ColumnRef[];
  /** Columns that are neither inputs nor targets (IDs, names, dates, free text): names or 0-based indices. */
  ignore?: readonly ColumnRef[];
  /** Whether the first row names the columns; 'auto': yes when it has a non-numeric cell in a feature column. */
  header?: 'auto' | boolean;
  /** [train, val, test] fractions of `path`, used for the parts without their own file. Default [0.8, 0.1, 0.1]. */
  split?: readonly [number, number, number];
  /** Seed of the stratified split and of the training-set shuffle. Default 0. */
  seed?: number;
  /** Z-score each feature with the training split's mean and standard deviation. Default true (false with `inputScale`). */
  standardize?: boolean;
  /**
   * Multiply every input value by this factor (e.g. 1/255: pixels stored as 0–255 for a model trained on [0, 1]), in
   * every split and file; not with `standardize` (z-scores undo any scale). Default: none.
   */
  inputScale?: number;
  /** Label names in the order of the model's outputs (output i = labelOrder[i]). Default: numeric or sorted order. */
  labelOrder?: readonly string[];
  /**
   * What the file's targets are: 'classes' — one label column (default); a number k — the last k columns
   * hold numbers (regression targets, or 0/1 for multi-label), read as they are and never standardised;
   * 'inputs' — no target column: every column is an input and the inputs are the targets (autoencoders).
   * With numbers or inputs the split is a seeded random one (there are no classes to stratify).
   */
  targets?: CsvTargets;
}

export type CsvTargets = 'classes' | 'inputs' | number;

export const CSV_DEFAULTS = Object.freeze({
  header: 'auto' as 'auto' | boolean,
  split: Object.freeze([0.8, 0.1, 0.1]) as readonly [number, number, number],
  seed: 0,
  standardize: true,
});

const DELIMITERS = [',', ';', '\t'] as const;
/** A number written with a decimal comma (European spreadsheets: '0,5'; a ';'-separated file keeps it in one cell). */
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** Cells that spreadsheets, R and pandas write for a missing value. */
const MISSING = /^(na|n\/a|nan|null|none|\?|-)$/i;

/**
 * Label cells that are a missing value, never a class: what spreadsheets, R and pandas write for one ('None' and '-'
 * can be classes: a sleep disorder of 'None'). 'NA' too, unless every label is a two-letter code (a continent's).
 */
const MISSING_LABEL = /^(n\/a|#n\/a|nan|null|\?)$/i;

/** Throws a DataError naming the first row whose label is a missing-value marker, and how many rows have one. */
function checkMissingLabels(labels: readonly string[], lines: readonly number[], file: string, column: string): void {
  const codes = labels.every((l) => /^[A-Za-z]{2}$/.test(l));
  const isMissing = (l: string) => MISSING_LABEL.test(l) || (!codes && /^na$/i.test(l));
  const first = labels.findIndex(isMissing);
  if (first < 0) return;
  const n = labels.filter(isMissing).length;
  throw new DataError(`${file} line ${lines[first]}, column '${column}': the label is missing ('${labels[first]}'${n > 1 ? `, as in ${n} rows` : ''}); ` +
    'autoprune does not guess labels: drop those rows or fill in their labels');
}

interface CsvRecord {
  cells: string[];
  /** 1-based line of the file where the record starts. */
  line: number;
}

/** A parsed file: rows of numbers and raw label strings. */
interface Table {
  file: string;
  /** Names of the table's columns (inputs, then targets): the header's, or 'column J' (0-based file index) without one. */
  columns: string[];
  /** The file's own header and width (before ignored columns are dropped and targets moved last). */
  fileColumns: string[] | undefined;
  fileWidth: number;
  /** File indices of the target and ignored columns. */
  nonInputs: number[];
  /** The label column's name in the file (header name or file index), for messages; the table's last column. */
  labelColumn: string;
  features: Float64Array[];
  labels: string[];
  lines: number[];
}

/**
 * The data size limit in MB: AUTOPRUNE_MAX_DATA_MB, a positive number; unset or empty, the default. Anything else is
 * refused naming the variable (a typo used to switch the limit off, or to set it to 0).
 */
function maxDataMb(): number {
  const raw = process.env.AUTOPRUNE_MAX_DATA_MB;
  if (raw == null || raw.trim() === '') return defaultMaxDataMb();
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`AUTOPRUNE_MAX_DATA_MB='${raw}' is not a size: give a positive number of megabytes (default ${defaultMaxDataMb()} here: ${DEFAULT_MAX_DATA_WHY}), or leave it unset`);
  return v;
}

/**
 * Largest data file read by default (AUTOPRUNE_MAX_DATA_MB sets another): 1024 MB, and at most 1/64 of this machine's
 * memory — reading a table as text, its rows and cells took 28–65 times the file's size (a new user's 131 MB file: 3.75
 * GB; one 40 MB line: 2.6 GB), so a file near 1024 MB would have ended in an out-of-memory kill, not a message.
 */
export function defaultMaxDataMb(): number {
  return Math.max(1, Math.min(1024, Math.floor(usableMemory() / 64 / 1048576)));
}
const DEFAULT_MAX_DATA_WHY = '1024 MB, at most 1/64 of the memory here: reading a table takes up to ~60 times its size';

function readText(file: string, flag?: string): string {
  const unreadable = (err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    const what = flag ? `the ${flag} file` : 'data file';
    // A file that is not there is said in words, as a missing model file is (not as an errno).
    if (e.code === 'ENOENT') return new DataError(`${what} '${file}' does not exist`);
    return new DataError(`cannot read ${what} '${file}': ${e.code ?? e.message}`);
  };
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw unreadable(err);
  }
  if (!st.isFile()) throw new DataError(`data file '${file}' is not a regular file (a device, pipe or folder)`);
  const maxMb = maxDataMb();
  if (st.size > maxMb * 1024 * 1024) {
    // Rounded down, with the decimals that show it over the limit (a 4.91 MB file over a 4.5 MB limit read "is 5 MB").
    const mb = st.size / 1048576;
    let d = mb < 1 ? 2 : 0;
    while (d < 6 && Math.floor(mb * 10 ** d) / 10 ** d <= maxMb) d++;
    throw new DataError(`data file '${file}' is ${(Math.floor(mb * 10 ** d) / 10 ** d).toFixed(d)} MB (${st.size.toLocaleString('en')} bytes; 1 MB = 1,048,576 bytes), over the ${maxMb} MB limit${process.env.AUTOPRUNE_MAX_DATA_MB?.trim() ? ' (AUTOPRUNE_MAX_DATA_MB)' : ` (by default ${DEFAULT_MAX_DATA_WHY})`}; set AUTOPRUNE_MAX_DATA_MB to raise it`);
  }
  try {
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw unreadable(err);
  }
}

/**
 * RFC 4180 records: quoted fields may hold delimiters, doubled quotes and line breaks; CRLF and LF both end
 * a record; blank lines are skipped. `maxRecords` stops early (for delimiter sniffing).
 */
/** The largest finite float32: tensors hold the file's values as float32, where larger ones become Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

function parseRecords(text: string, delim: string, file: string, maxRecords = Infinity): CsvRecord[] {
  const out: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let wasQuoted = false;
  let line = 1;
  let start = 1;
  let quoteLine = 1;
  const endRecord = () => {
    cells.push(cell);
    const blank = cells.length === 1 && !wasQuoted && cells[0].trim() === '';
    if (!blank) out.push({ cells, line: start });
    cells = [];
    cell = '';
    wasQuoted = false;
  };
  const n = text.length;
  for (let i = 0; i < n && out.length < maxRecords; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell.trim() === '') {
      quoted = true;
      wasQuoted = true;
      quoteLine = line;
      cell = '';
    } else if (c === delim) {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      cell += c;
    }
  }
  if (quoted && maxRecords === Infinity) {
    throw new DataError(`${file} line ${quoteLine}: a quoted field is never closed`);
  }
  if (out.length < maxRecords && (cells.length > 0 || cell !== '' || wasQuoted)) endRecord();
  return out;
}

/**
 * A comma-separated list given on the command line (--label-order, --ignore-columns, --label), read as one CSV
 * record: a name that holds a comma is written in double quotes, as in the file ("Adelie, penguin"). Each name is
 * trimmed; empty ones are dropped.
 */
export function nameList(value: string, flag: string): string[] {
  const records = parseRecords(value, ',', flag);
  // (A line break outside quotes ends a record: what followed it was dropped without a word.)
  if (records.length > 1) throw new UsageError(`${flag} '${value}' holds a line break; give the names on one line`);
  return (records[0]?.cells ?? []).map((c) => c.trim()).filter((c) => c !== '');
}

/** The reverse of nameList: names as one CSV record, a name with a comma, a quote or edge spaces in double quotes. */
export function csvNames(names: readonly string[]): string {
  return names.map((n) => (/[",]|^\s|\s$/.test(n) ? `"${n.replace(/"/g, '""')}"` : n)).join(',');
}

/**
 * The delimiter that splits the first records into the most fields (> 1), among those that split at least
 * 80% of them the same way as the first; ties go to comma, then semicolon, then tab.
 */
function sniffDelimiter(text: string, file: string): string {
  let best: string = ',';
  let bestCols = 1;
  for (const d of DELIMITERS) {
    const recs = parseRecords(text.slice(0, 64 * 1024), d, file, 10);
    if (recs.length === 0) continue;
    const cols = recs[0].cells.length;
    const whole = recs.length > 1 ? recs.slice(0, -1) : recs; // the last record may be cut off
    const agree = whole.filter((r) => r.cells.length === cols).length / whole.length;
    if (agree >= 0.8 && cols > bestCols) { best = d; bestCols = cols; }
  }
  return best;
}

const isNumber = (s: string): boolean => NUMBER.test(s.trim());

/** `; column 'label' looks like the label: pass --label label` where the file has such a column other than the one read. */
function labelHint(table: Table): string {
  const c = table.fileColumns?.find((n) => n !== table.labelColumn && LABEL_LIKE_NAMES.includes(n.trim().toLowerCase()));
  return c ? `; column '${c}' looks like the label: pass --label ${c.trim()}` : '';
}

function columnName(columns: string[] | undefined, j: number): string {
  return columns ? columns[j] : String(j);
}

/** A column given by header name or 0-based index (a number or a string of digits). */
export type ColumnRef = string | number;

const asIndexRef = (c: ColumnRef): number => (typeof c === 'number' ? c : /^\d+$/.test(c.trim()) ? Number(c) : NaN);
const byName = (c: ColumnRef): boolean => typeof c === 'string' && Number.isNaN(asIndexRef(c));

/** The file column a --label / --ignore-columns entry names. */
function resolveColumn(ref: ColumnRef, what: string, columns: string[] | undefined, width: number, file: string, line: number): number {
  if (typeof ref === 'string' && columns) {
    const j = columns.indexOf(ref.trim());
    const k = columns.lastIndexOf(ref.trim());
    if (j >= 0 && k !== j) {
      throw new DataError(`${file} line ${line}: the header names two columns '${ref.trim()}' (indices ${j} and ${k}), so the ${what} column is ambiguous: rename one, or give the ${what} column by its index`);
    }
    if (j >= 0) return j;
  }
  const asIndex = asIndexRef(ref);
  if (Number.isInteger(asIndex) && asIndex >= 0 && asIndex < width) return asIndex;
  const list = columns ? columns.map((c) => `'${c}'`).join(', ') : `indices 0..${width - 1} (the file has no header row)`;
  if (Number.isInteger(asIndex)) throw new DataError(`${file} line ${line}: ${what} column index ${asIndex} is out of range: the file has ${width} columns (${list})`);
  // A name that differs only in letter case or surrounding spaces: said (the header is matched exactly).
  const near = typeof ref === 'string' && columns ? columns.find((c) => c.trim().toLowerCase() === ref.trim().toLowerCase()) : undefined;
  throw new DataError(`${file} line ${line}: no ${what} column ${typeof ref === 'string' ? `'${ref}'` : ref}${near != null ? ` (did you mean '${near}'? names match exactly, letter case included)` : ''}; columns are: ${list}`);
}

/** Which of a file's columns are targets (in the given order) and which are left out; the rest are inputs. */
interface ColumnPlan {
  /** Target columns, in order; default: the last column that is not ignored. */
  label?: readonly ColumnRef[];
  /** Columns that are neither inputs nor targets (IDs, names, free text). */
  ignore?: readonly ColumnRef[];
}

/** File column indices of the targets and of the ignored columns. */
function resolvePlan(plan: ColumnPlan, columns: string[] | undefined, width: number, file: string, line: number): { label: number[]; ignore: Set<number> } {
  const ignore = new Set((plan.ignore ?? []).map((c) => resolveColumn(c, 'ignored', columns, width, file, line)));
  // Without --label, the last column that is not ignored (ignoring the file's last column makes the one before it the label).
  let last = width - 1;
  while (last > 0 && ignore.has(last)) last--;
  const label = plan.label?.length ? plan.label.map((c) => resolveColumn(c, 'label', columns, width, file, line)) : [last];
  const name = (j: number) => (columns ? `'${columns[j]}'` : `${j}`);
  const twice = label.find((j, i) => label.indexOf(j) !== i);
  if (twice !== undefined) throw new UsageError(`--label names column ${name(twice)} twice`);
  const both = label.find((j) => ignore.has(j));
  if (both !== undefined) throw new UsageError(`column ${name(both)} is both a --label and an --ignore-columns column`);
  if (width - ignore.size - label.length < 1) {
    throw new DataError(`${file} line ${line}: no input column left: ${width} columns, ${label.length} label and ${ignore.size} ignored`);
  }
  return { label, ignore };
}

interface ReadOptions extends ColumnPlan {
  header: 'auto' | boolean;
  /** Without --label, how many of the last columns (ignored ones aside) are targets of a multi-output model: named so in errors. */
  lastTargets?: number;
  /** The option that named the file where it is not the main data file ('--val-data', '--test-data'): said when it cannot be read. */
  flag?: string;
}

/**
 * Whether the first row is a header of numbered columns, as pandas writes a frame without column names
 * (`0,1,…,783,label`): its input cells count the file's columns (0, 1, 2, … or 1, 2, 3, …, at least 3 of them)
 * and the next row's do not, and each other cell continues the count or holds a value no other row of its column
 * has (a label column's name). Read as data, such a row became a training sample, or a class of its own.
 */
function countsColumns(records: { cells: string[] }[], skip: Set<number>): boolean {
  const [first, second] = records;
  if (!second) return false;
  const inputs = first.cells.map((_, j) => j).filter((j) => !skip.has(j));
  if (inputs.length < 3) return false;
  const counts = (cells: string[], j: number, off: number) => cells[j] != null && isNumber(cells[j]) && Number(cells[j]) === j + off;
  const off = [0, 1].find((o) => inputs.every((j) => counts(first.cells, j, o)));
  if (off == null || inputs.every((j) => counts(second.cells, j, off))) return false;
  return first.cells.every((c, j) => !skip.has(j) || counts(first.cells, j, off) || records.every((r, i) => i === 0 || r.cells[j]?.trim() !== c.trim()));
}

/**
 * Reads a CSV file into inputs and one raw label string per row. The file's columns are reordered as
 * [inputs in file order, targets in the given order] with the ignored columns dropped, so that the label
 * is the last column and k targets are the last k; `like` (the main file) fixes the header and columns.
 */
function readTable(file: string, opts: ReadOptions, like?: Table): Table {
  const text = readText(file, opts.flag);
  const t = text.trim();
  if (t === '') throw new DataError(`${file}: the file is empty`);
  if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
    throw new DataError(`${file}: is JSON, not a table; autoprune reads comma-, semicolon- or tab-separated text with one row per line (convert the records to CSV, a header row first)`);
  }
  const records = parseRecords(text, sniffDelimiter(text, file), file);
  if (records.length === 0) throw new DataError(`${file}: the file is empty`);
  // A delimiter at the end of every line (spreadsheet exports) makes an empty last column, header included: not a column.
  if (records.every((r) => r.cells.length > 2 && r.cells[r.cells.length - 1].trim() === '')) for (const r of records) r.cells.pop();
  const first = records[0];
  const width = first.cells.length;
  if (width < 2) {
    throw new DataError(`${file} line ${first.line}: found 1 column; need at least one feature column and a label column ` +
      `(delimiters tried: comma, semicolon, tab)`);
  }
  let hasHeader: boolean;
  if (opts.header !== 'auto') {
    hasHeader = opts.header;
  } else if (!like && [...(opts.label ?? []), ...(opts.ignore ?? [])].some(byName)) {
    hasHeader = true; // a column given by name needs a header row
  } else {
    // A header has text in an input column (the main file's columns for a validation/test file). An
    // out-of-range index is reported below, with the column names when there is a header.
    let skip = new Set(like ? like.nonInputs : [width - 1]);
    if (!like) {
      try {
        const p = resolvePlan(opts, undefined, width, file, first.line);
        skip = new Set([...p.label, ...p.ignore]);
      } catch { /* keep the last column */ }
    }
    hasHeader = first.cells.some((c, j) => !skip.has(j) && !isNumber(c)) || countsColumns(records, skip);
  }
  const fileColumns = hasHeader ? first.cells.map((c) => c.trim()) : undefined;
  if (like) {
    if (width !== like.fileWidth) {
      // Both files with a header: the columns that differ by name (a new user's test file lacked the 'title' column).
      const missing = fileColumns && like.fileColumns ? like.fileColumns.filter((c) => !fileColumns.includes(c)) : [];
      const extra = fileColumns && like.fileColumns ? fileColumns.filter((c) => !like.fileColumns!.includes(c)) : [];
      const names = (cs: string[]) => cs.slice(0, 5).map((c) => `'${c}'`).join(', ') + (cs.length > 5 ? ', …' : '');
      const which = [missing.length ? `without ${names(missing)}` : '', extra.length ? `with ${names(extra)}, which ${like.file} has not` : ''].filter(Boolean).join(', ');
      throw new DataError(`${file} line ${first.line}: expected ${like.fileWidth} columns like ${like.file}, found ${width}${which ? ` (${which})` : ''}`);
    }
    if (fileColumns && like.fileColumns && fileColumns.join('\u0000') !== like.fileColumns.join('\u0000')) {
      throw new DataError(`${file} line ${first.line}: the header (${fileColumns.join(', ')}) differs from ` +
        `${like.file}'s (${like.fileColumns.join(', ')})`);
    }
  }
  const plan = resolvePlan(opts, fileColumns, width, file, first.line);
  if (fileColumns) {
    // Two used columns of one name: the report's inputs (and a validation file's check) could not tell them apart.
    const seen = new Map<string, number>();
    for (let j = 0; j < width; j++) {
      const name = fileColumns[j];
      if (name === '' || isNumber(name) || plan.ignore.has(j)) continue; // numbers: a first row read as a header on request
      const k = seen.get(name);
      if (k != null) throw new DataError(`${file} line ${first.line}: the header names two columns '${name}' (indices ${k} and ${j}): rename one, or leave one out with --ignore-columns ${j}`);
      seen.set(name, j);
    }
  }
  const targets = new Set(plan.label);
  const kept = Array.from({ length: width }, (_, j) => j).filter((j) => !plan.ignore.has(j));
  const valueTargets = new Set(opts.lastTargets && !opts.label ? kept.slice(-opts.lastTargets) : []);
  /** File column of each table column: the inputs in file order, then the targets. */
  const order = [...Array.from({ length: width }, (_, j) => j).filter((j) => !targets.has(j) && !plan.ignore.has(j)), ...plan.label];
  // Without a header row a column is named by its 0-based index in the file (what --label and --ignore-columns take).
  const columns = order.map((j) => (fileColumns ? fileColumns[j] : `column ${j}`));
  const labelFileIndex = order[order.length - 1];
  const rows = hasHeader ? records.slice(1) : records;
  if (rows.length === 0) throw new DataError(`${file}: has a header row (line ${first.line}) but no data rows`);
  const nf = order.length - 1;
  const features: Float64Array[] = [];
  const labels: string[] = [];
  const lines: number[] = [];
  for (const r of rows) {
    if (r.cells.length !== width) {
      throw new DataError(`${file} line ${r.line}: expected ${width} columns, found ${r.cells.length}`);
    }
    const f = new Float64Array(nf);
    for (let k = 0; k < order.length; k++) {
      const j = order[k];
      const cell = r.cells[j].trim();
      if (j === labelFileIndex) {
        if (cell === '') {
          throw new DataError(`${file} line ${r.line}, column '${columnName(fileColumns, j)}': the label is empty`);
        }
        labels.push(cell);
        continue;
      }
      if (!NUMBER.test(cell)) {
        const missing = cell === '' || MISSING.test(cell);
        const what = cell === '' ? 'empty cell' : `'${cell}'`;
        // Which column was taken as the label (after a missing value only where the user did not name it): a label
        // column of words ('None' a class among them) must not read as a feature with missing values.
        // A header of numbers ('39.1', '4.45') is most likely a first data row of a headerless file whose label is a word.
        const numericHeader = fileColumns?.filter((c) => NUMBER.test(c)) ?? [];
        const headerless = numericHeader.length >= 2
          ? ` (line ${first.line} was read as a header, but it holds numbers such as '${numericHeader[0]}': if the file has no header row, give the label column by its 0-based index (--label ${j} if it is this column of words))` : '';
        // A model of several outputs reads several target columns: all named (a new user's 3-label model was told one).
        const several = [...new Set([...targets, ...valueTargets])].sort((a, b) => a - b);
        const label = several.length > 1
          ? `; the model's target columns are ${several.map((t) => `'${columnName(fileColumns, t)}'`).join(', ')} (others: --label a,b,…)${headerless}`
          : `; the label column is '${columnName(fileColumns, labelFileIndex)}' (another: --label)${headerless}`;
        throw new DataError(`${file} line ${r.line}, column '${columnName(fileColumns, j)}': ${what} is not a number` +
          (targets.has(j) || valueTargets.has(j) ? '; it is one of the model\'s target columns, which hold numbers (0 or 1 for each label of a multi-label model)' : missing
            ? `; autoprune does not fill in missing values: drop or fill the rows with ${cell === '' ? 'empty cells' : `cells like '${cell}'`} (as the model was trained), or leave the column out with --ignore-columns if it is not an input${opts.label ? '' : label}`
            : DECIMAL_COMMA.test(cell) ? ': numbers are read with a decimal point and no thousands separator (a decimal comma? export the CSV with \'.\' as the decimal separator)'
            : `${label}; columns that are not inputs are left out with --ignore-columns, and a categorical input is given as the model was trained on it, encoded as numbers (e.g. one 0/1 column per category)`));
      }
      const v = Number(cell);
      if (!Number.isFinite(v)) {
        throw new DataError(`${file} line ${r.line}, column '${columnName(fileColumns, j)}': '${cell}' overflows to ${v}; values must be finite`);
      }
      if (Math.abs(v) > FLOAT32_MAX) {
        throw new DataError(`${file} line ${r.line}, column '${columnName(fileColumns, j)}': '${cell}' is too large for float32 (at most ±3.4e38), the precision models compute in`);
      }
      f[k] = v;
    }
    features.push(f);
    lines.push(r.line);
  }
  checkMissingLabels(labels, lines, file, columnName(fileColumns, labelFileIndex));
  return { file, columns, fileColumns, fileWidth: width, nonInputs: [...plan.label, ...plan.ignore], labelColumn: columnName(fileColumns, labelFileIndex), features, labels, lines };
}

/**
 * A table read with k label columns (the last k−1 of them among its features, the last as its label) as one-hot
 * classes: each row's label is the name of the column holding its 1, the others holding 0; its features are the
 * inputs only. Throws a DataError naming the line where a row is not one-hot.
 */
function oneHotClasses(t: Table, k: number): Table {
  const nf = t.features[0]?.length ?? 0;
  const names = t.columns.slice(-k);
  const inputs = nf - (k - 1);
  const labels = t.features.map((f, i) => {
    const cells = [...Array.from(f.subarray(inputs)), t.labels[i].trim() === '' ? NaN : Number(t.labels[i])];
    const hot = cells.flatMap((v, j) => (v === 1 ? [j] : []));
    if (hot.length !== 1 || cells.some((v) => v !== 0 && v !== 1)) {
      throw new DataError(`${t.file} line ${t.lines[i]}: the label columns ${names.join(', ')} hold ${cells.map((v) => (Number.isNaN(v) ? `'${t.labels[i]}'` : v)).join(', ')}; ` +
        'several label columns of a classifier are read as one-hot classes (a single 1 per row, 0 elsewhere): a row of 0s may mean a class column missing from --label (name every class column of the model), ' +
        'and for labels that can be 1 together the model is a multi-label one (--task multilabel), for numbers a regression (--task regression)');
    }
    return names[hot[0]];
  });
  return {
    ...t, columns: [...t.columns.slice(0, inputs), ...names], labelColumn: names.join(','),
    features: t.features.map((f) => f.slice(0, inputs)), labels,
  };
}

/** Label strings → class ids 0..C-1, sorted numerically when every label is a number, else by string. */
function classMap(table: Table): { key: (s: string) => string; names: string[]; ids: Map<string, number> } {
  const numeric = table.labels.every(isNumber);
  const key = numeric ? (s: string) => (isNumber(s) ? String(Number(s)) : `\u0000${s}`) : (s: string) => s;
  const firstSeen = new Map<string, string>();
  for (const s of table.labels) if (!firstSeen.has(key(s))) firstSeen.set(key(s), s);
  const keys = [...firstSeen.keys()];
  if (numeric) keys.sort((a, b) => Number(a) - Number(b));
  else keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length < 2) {
    throw new DataError(`${table.file}: all ${table.labels.length} samples have the label '${table.labels[0]}' ` +
      `(column '${table.labelColumn}'); a classifier needs at least two classes${labelHint(table)}`);
  }
  return { key, names: keys.map((k) => firstSeen.get(k)!), ids: new Map(keys.map((k, i) => [k, i])) };
}

/** The classes in the user's order (`--label-order`): every label of the file must be one of them. */
function givenClassMap(table: Table, order: readonly string[]): ReturnType<typeof classMap> {
  const names = order.map((s) => s.trim());
  if (new Set(names).size !== names.length || names.some((n) => n === '')) {
    throw new UsageError(`--label-order must list distinct label names, got '${order.join(',')}'`);
  }
  const ids = new Map(names.map((n, i) => [n, i]));
  const missing = [...new Set(table.labels.filter((l) => !ids.has(l)))];
  if (missing.length) {
    throw new DataError(`${table.file}: label '${missing[0]}' is not in --label-order (${names.join(', ')})`);
  }
  return { key: (s: string) => s, names, ids };
}

function classIds(table: Table, map: ReturnType<typeof classMap>, trainFile: string): Int32Array {
  const y = new Int32Array(table.labels.length);
  table.labels.forEach((s, i) => {
    const id = map.ids.get(map.key(s));
    if (id === undefined) {
      // Many distinct numbers (or fractions) as labels: a regression target read as classes.
      const regression = looksLikeRegressionTarget(map.names)
        ? '; the labels look like a regression target (many distinct numbers): for a regression model pass --task regression (or save the model with its loss: model.save(url, { includeOptimizer: true }))' : '';
      throw new DataError(`${table.file} line ${table.lines[i]}: label '${s}' does not occur in the training data ` +
        `${trainFile} (classes: ${map.names.slice(0, 10).join(', ')}${map.names.length > 10 ? `, … ${map.names.length} in all` : ''})${regression}; ` +
        `the label read is column '${table.labelColumn}': if the label is another column, name it with --label (and keep it out of --ignore-columns)${labelHint(table)}`);
    }
    y[i] = id;
  });
  return y;
}

/**
 * Stratified split of n samples into [train, val, test] index lists. Each sample's rank inside its
 * (shuffled) class, scaled to [0, 1), orders all samples; val takes the lowest ranks, test the next, train
 * the rest — so every class is spread over the parts in proportion and the totals are exact.
 */
function stratifiedSplit(y: Int32Array, counts: [number, number], seed: number): [number[], number[], number[]] {
  const rng = new Rng(seed);
  const byClass = new Map<number, number[]>();
  y.forEach((c, i) => { (byClass.get(c) ?? byClass.set(c, []).get(c)!).push(i); });
  const ranked: { i: number; u: number; c: number }[] = [];
  for (const [c, members] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    const p = rng.permutation(members.length);
    p.forEach((src, k) => ranked.push({ i: members[src], u: (k + 0.5) / members.length, c }));
  }
  ranked.sort((a, b) => a.u - b.u || a.c - b.c);
  const [nVal, nTest] = counts;
  const asc = (a: number, b: number) => a - b;
  const val = ranked.slice(0, nVal).map((r) => r.i).sort(asc);
  const test = ranked.slice(nVal, nVal + nTest).map((r) => r.i).sort(asc);
  const train = ranked.slice(nVal + nTest).map((r) => r.i).sort(asc);
  return [train, val, test];
}

function checkSplit(split: readonly number[]): [number, number, number] {
  if (split.length !== 3 || split.some((f) => !Number.isFinite(f) || f < 0) || split[0] + split[1] + split[2] <= 0) {
    throw new UsageError(`split [${split.join(', ')}] must be three non-negative fractions [train, val, test]`);
  }
  const sum = split[0] + split[1] + split[2];
  return [split[0] / sum, split[1] / sum, split[2] / sum];
}

/** Every option loadCsv takes (checked against CsvOptions by the compiler): anything else is a typo or another entry point's name. */
const CSV_OPTION_KEYS: Record<keyof CsvOptions, true> = {
  path: true, valPath: true, testPath: true, label: true, ignore: true, header: true, split: true, seed: true, standardize: true, inputScale: true, labelOrder: true, targets: true,
};

/** The input scale of `options` (1 where none is given), checked; an explicit `standardize: true` beside it is refused. */
function inputScaleOf(options: CsvOptions): number {
  const k = options.inputScale;
  if (k == null) return 1;
  if (typeof k !== 'number' || !Number.isFinite(k) || k <= 0) throw new UsageError(`--input-scale must be a positive number (e.g. 1/255), got '${String(k)}'`);
  if (options.standardize === true) throw new UsageError('--input-scale and --standardize together: z-scores undo any scale; give one of them');
  return k;
}

/**
 * A classification dataset from CSV files: numeric feature columns plus one label column (integers or
 * strings). Validation/test data come from separate files or a seeded stratified split of `path`; the
 * training split is shuffled with `seed`; features are standardised with training statistics only.
 * Throws DataError naming the file and line for unusable data.
 */
export function loadCsv(options: CsvOptions): Dataset {
  if (options == null || typeof options !== 'object') throw new UsageError('loadCsv needs an options object with a file path, e.g. { path: \'data.csv\' }');
  // autoprune()'s and loadDataset's names for the same options, said where a user brings them here.
  refuseUnknownKeys(options, Object.keys(CSV_OPTION_KEYS), 'loadCsv', { ignoreColumns: 'ignore', valData: 'valPath', testData: 'testPath', data: 'path', splitSeed: 'seed' });
  if (typeof options.path !== 'string' || options.path === '') throw new UsageError('loadCsv needs a file path');
  const inputScale = inputScaleOf(options);
  // A scale given: the values are fed scaled, not z-scored (unless standardize says otherwise, refused above).
  const o = { ...CSV_DEFAULTS, ...stripUndefined(options), path: options.path, ...(options.inputScale != null ? { standardize: false, inputScale } : {}) };
  const fractions = checkSplit(o.split);
  if (o.targets !== undefined && o.targets !== 'classes') return loadValueCsv(o as CsvOptions & typeof CSV_DEFAULTS, fractions);
  const refs = labelRefs(o.label);
  // Several label columns for a classifier: one-hot classes (one 1 per row, 0 elsewhere), the columns in the model's
  // output order and named by their headers.
  const oneHot = refs && refs.length > 1 ? refs.length : 0;
  if (oneHot && o.labelOrder) throw new UsageError('--label-order orders the values of one label column; one-hot label columns (--label a,b,c) are in the order given there');
  if (refs && refs.length === 0) throw new UsageError('--label names no column');
  const read = (file: string, like?: Table, flag?: string) => {
    const t = readTable(file, { header: o.header, label: refs, ignore: o.ignore, flag }, like);
    return oneHot ? oneHotClasses(t, oneHot) : t;
  };
  const main = read(o.path);
  const map = oneHot ? givenClassMap(main, main.columns.slice(-oneHot)) : o.labelOrder ? givenClassMap(main, o.labelOrder) : classMap(main);
  const y = classIds(main, map, o.path);
  const nf = main.features[0].length;

  type Part = { rows: Float64Array[]; y: Int32Array; origin: SplitOrigin };
  const pick = (t: Table, yy: Int32Array, idx: number[]): Part =>
    ({ rows: idx.map((i) => t.features[i]), y: Int32Array.from(idx, (i) => yy[i]), origin: { file: t.file, lines: Int32Array.from(idx, (i) => t.lines[i]) } });
  const other = (file: string, flag: string): Part => {
    const t = read(file, main, flag);
    const yy = classIds(t, map, o.path);
    return { rows: t.features, y: yy, origin: { file: t.file, lines: Int32Array.from(t.lines) } };
  };

  const n = main.features.length;
  const nVal = o.valPath ? 0 : Math.round(n * fractions[1]);
  const nTest = o.testPath ? 0 : Math.round(n * fractions[2]);
  const names = ['training', 'validation', 'test'];
  const sizes = [n - nVal - nTest, o.valPath ? 1 : nVal, o.testPath ? 1 : nTest];
  sizes.forEach((s, k) => {
    if (s <= 0) {
      throw new DataError(`${o.path}: splitting ${n} samples by [${o.split.join(', ')}] leaves the ${names[k]} ` +
        `split with 0 samples; ${k === 0 ? 'use more data or smaller validation/test fractions'
          : `use more data, a larger fraction, or a separate ${names[k]} file`}`);
    }
  });
  // Stratified by the labels in their default (sorted) numbering, whatever order --label-order or one-hot columns give
  // the classes: the split depends on the rows and the seed only, so a model's training rows stay out of validation
  // and test however its classes are numbered (until 2026-12-05 a --label-order re-split the file).
  const splitKeys = oneHot || o.labelOrder ? classIds(main, classMap(main), o.path) : y;
  const [trainIdx, valIdx, testIdx] = stratifiedSplit(splitKeys, [nVal, nTest], o.seed);
  const order = new Rng(o.seed ^ 0x5bd1e995).permutation(trainIdx.length);
  const train = pick(main, y, Array.from(order, (k) => trainIdx[k]));
  const val = o.valPath ? other(o.valPath, '--val-data') : pick(main, y, valIdx);
  const test = o.testPath ? other(o.testPath, '--test-data') : pick(main, y, testIdx);

  const mean = new Float64Array(nf);
  const scale = new Float64Array(nf).fill(1);
  if (o.standardize) {
    for (const r of train.rows) for (let j = 0; j < nf; j++) mean[j] += r[j];
    for (let j = 0; j < nf; j++) mean[j] /= train.rows.length;
    const v = new Float64Array(nf);
    for (const r of train.rows) for (let j = 0; j < nf; j++) v[j] += (r[j] - mean[j]) ** 2;
    for (let j = 0; j < nf; j++) {
      const sd = Math.sqrt(v[j] / train.rows.length);
      // A constant column carries no information; 0 keeps it harmless instead of dividing by ~0.
      scale[j] = sd > 1e-12 * Math.max(1, Math.abs(mean[j])) ? 1 / sd : 0;
    }
  }
  const toSplit = (p: Part): Split => {
    const x = new Float32Array(p.rows.length * nf);
    p.rows.forEach((r, i) => {
      for (let j = 0; j < nf; j++) x[i * nf + j] = scale[j] === 0 ? 0 : (inputScale * r[j] - mean[j]) * scale[j];
    });
    return { x: tf.tensor2d(x, [p.rows.length, nf]), labels: p.y, origin: p.origin };
  };
  const splits = [toSplit(train), toSplit(val), toSplit(test)];
  const source = [o.path, o.valPath, o.testPath].filter(Boolean).join(', ');
  return {
    name: basename(o.path),
    source,
    inputShape: [nf],
    numClasses: map.names.length,
    classNames: map.names,
    ...(o.labelOrder || oneHot ? { labelOrderGiven: true } : {}),
    inputNames: main.columns.slice(0, nf), targetNames: main.columns.slice(nf),
    ...(o.standardize ? { standardization: standardizationOf(main.columns.slice(0, nf), mean, scale) } : {}),
    train: splits[0], val: splits[1], test: splits[2],
    dispose() {
      splits.forEach((s) => s.x.dispose());
    },
  };
}

/**
 * The last k columns' numbers as targets, or ('inputs') every column an input and the inputs the targets.
 * Rows are split at random (seeded); only the inputs are standardised.
 */
function loadValueCsv(o: CsvOptions & typeof CSV_DEFAULTS, fractions: [number, number, number]): Dataset {
  const inputScale = o.inputScale ?? 1;
  const k = o.targets === 'inputs' ? 0 : Number(o.targets);
  if (!(Number.isInteger(k) && k >= 0)) throw new UsageError(`targets must be 'classes', 'inputs' or a number of target columns ≥ 1, got ${String(o.targets)}`);
  const refs = labelRefs(o.label);
  if (refs && k === 0) throw new UsageError('--label does not apply to an autoencoder: every column is an input and a target');
  if (refs && refs.length !== k) {
    throw new UsageError(`--label names ${refs.length} column(s) but the model has ${k} output(s): name ${k} target columns in the order of its outputs, or none for the file's last ${k}`);
  }
  const read = (file: string, like?: Table, flag?: string) => readTable(file, { header: o.header, label: refs, ignore: o.ignore, lastTargets: k, flag }, like);
  const width0 = (t: Table) => t.features[0].length + 1;
  /** Splits a table's rows into inputs and target values (the label column parsed as a number, last). */
  const parse = (t: Table): { rows: Float64Array[]; targets: Float64Array[] } => {
    const nIn = width0(t) - k;
    if (nIn < 1) throw new DataError(`${t.file}: ${width0(t)} columns cannot hold ${k} target columns and at least one input`);
    const rows: Float64Array[] = [];
    const targets: Float64Array[] = [];
    t.features.forEach((f, i) => {
      const cell = t.labels[i];
      const v = NUMBER.test(cell) ? Number(cell) : NaN;
      if (!Number.isFinite(v)) {
        // Where the user named no target column, the file's last ones were taken: say so, a column of words there is
        // most often a label the user forgot to name or to leave out.
        const taken = k > 0 && !refs
          ? `; no --label was given, so the file's last ${k > 1 ? `${k} columns are` : 'column is'} taken as the model's target${k > 1 ? 's' : ''}: name ${k > 1 ? 'them' : 'it'} with --label, and leave columns that are not inputs out with --ignore-columns`
          : '';
        throw new DataError(`${t.file} line ${t.lines[i]}, column '${t.labelColumn}': '${cell}' is not a finite number (the ${k === 0 ? 'columns are inputs' : 'targets are numbers'})${taken}`);
      }
      const all = Float64Array.from([...f, v]);
      rows.push(all.subarray(0, nIn));
      targets.push(all.subarray(nIn));
    });
    return { rows, targets };
  };
  const main = read(o.path);
  const mp = parse(main);
  const n = mp.rows.length;
  const nVal = o.valPath ? 0 : Math.round(n * fractions[1]);
  const nTest = o.testPath ? 0 : Math.round(n * fractions[2]);
  if (n - nVal - nTest <= 0 || (!o.valPath && nVal <= 0) || (!o.testPath && nTest <= 0)) {
    throw new DataError(`${o.path}: splitting ${n} samples by [${o.split.join(', ')}] leaves a split with 0 samples; use more data or separate validation/test files`);
  }
  const perm = new Rng(o.seed).permutation(n);
  const asc = (a: number, b: number) => a - b;
  const valIdx = Array.from(perm.subarray(0, nVal)).sort(asc);
  const testIdx = Array.from(perm.subarray(nVal, nVal + nTest)).sort(asc);
  const trainIdx = Array.from(perm.subarray(nVal + nTest));
  type Part = { rows: Float64Array[]; targets: Float64Array[]; origin: SplitOrigin };
  const pick = (idx: number[]): Part => ({ rows: idx.map((i) => mp.rows[i]), targets: idx.map((i) => mp.targets[i]), origin: { file: main.file, lines: Int32Array.from(idx, (i) => main.lines[i]) } });
  const other = (file: string, flag: string): Part => { const t = read(file, main, flag); return { ...parse(t), origin: { file: t.file, lines: Int32Array.from(t.lines) } }; };
  const parts = [pick(trainIdx), o.valPath ? other(o.valPath, '--val-data') : pick(valIdx), o.testPath ? other(o.testPath, '--test-data') : pick(testIdx)];
  const nf = mp.rows[0].length;
  const mean = new Float64Array(nf);
  const scale = new Float64Array(nf).fill(1);
  if (o.standardize) {
    const tr = parts[0].rows;
    for (const r of tr) for (let j = 0; j < nf; j++) mean[j] += r[j] / tr.length;
    const v = new Float64Array(nf);
    for (const r of tr) for (let j = 0; j < nf; j++) v[j] += (r[j] - mean[j]) ** 2 / tr.length;
    for (let j = 0; j < nf; j++) scale[j] = Math.sqrt(v[j]) > 1e-12 * Math.max(1, Math.abs(mean[j])) ? 1 / Math.sqrt(v[j]) : 0;
  }
  const toSplit = (p: Part): Split => {
    const x = new Float32Array(p.rows.length * nf);
    p.rows.forEach((r, i) => { for (let j = 0; j < nf; j++) x[i * nf + j] = scale[j] === 0 ? 0 : (inputScale * r[j] - mean[j]) * scale[j]; });
    const split: Split = { x: tf.tensor2d(x, [p.rows.length, nf]), labels: new Int32Array(p.rows.length), origin: p.origin };
    if (k > 0) split.y = tf.tensor2d(Float32Array.from(p.targets.flatMap((t) => Array.from(t))), [p.rows.length, k]);
    return split;
  };
  const splits = parts.map(toSplit);
  return {
    name: basename(o.path),
    source: [o.path, o.valPath, o.testPath].filter(Boolean).join(', '),
    inputShape: [nf],
    numClasses: 0,
    classNames: [],
    targetNames: k > 0 ? main.columns.slice(main.columns.length - k) : [], inputNames: main.columns.slice(0, nf),
    ...(o.standardize ? { standardization: standardizationOf(main.columns.slice(0, nf), mean, scale) } : {}),
    train: splits[0], val: splits[1], test: splits[2],
    dispose() {
      splits.forEach((s) => { s.x.dispose(); s.y?.dispose(); });
    },
  };
}

/** `label` as a list of columns (undefined: the default). */
function labelRefs(label: CsvOptions['label']): readonly ColumnRef[] | undefined {
  if (label === undefined) return undefined;
  return typeof label === 'string' || typeof label === 'number' ? [label] : label;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The report's record of a standardization: per input column, the training rows' mean and standard deviation. */
function standardizationOf(columns: string[], mean: Float64Array, scale: Float64Array): { columns: string[]; mean: number[]; std: number[] } {
  return { columns, mean: Array.from(mean), std: Array.from(scale, (s) => (s === 0 ? 0 : 1 / s)) };
}
