/**
 * Table-driven bad-input and fault classes against the CLI (docs/reliability.md). Each class asserts: exit 2,
 * exactly one `autoprune: error` line naming what is wrong, the inputs' bytes unchanged, nothing written in
 * the working folder except what the case itself prepared, and no temp/checkpoint/lock folders left behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, chmodSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { tempDir } from '../helpers.js';
import { execFileSync, spawn } from 'node:child_process';
import { BIN, CACHE, cli, expectCleanUsageError } from '../cli/cli-helpers.js';
import { lockFileFor } from '../../src/output-dir.js';

/** The lock file a CLI run with cache `cache` takes for output folder `out`. */
function lockFileIn(cache: string, out: string): string {
  const before = process.env.AUTOPRUNE_CACHE_DIR;
  process.env.AUTOPRUNE_CACHE_DIR = cache;
  try {
    return lockFileFor(out);
  } finally {
    if (before === undefined) delete process.env.AUTOPRUNE_CACHE_DIR;
    else process.env.AUTOPRUNE_CACHE_DIR = before;
  }
}

/** Every file under `dir` (links not followed) with its sha256 (or link target). */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) out.set(relative(dir, p), 'link');
      else if (e.isDirectory()) { out.set(`${relative(dir, p)}/`, 'dir'); walk(p); }
      else if (!e.isFile()) out.set(relative(dir, p), 'special'); // a FIFO: opening it to hash it would block
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

let fixtures: string;
const CSV_HEADER = 'a,b,c,d,y';

function csvRows(n: number): string {
  const rows = [CSV_HEADER];
  for (let i = 0; i < n; i++) {
    const x = [Math.sin(i), Math.cos(i * 1.3), Math.sin(i * 0.7 + 1), Math.cos(i * 2.1)];
    rows.push(`${x.map((v) => v.toFixed(3)).join(',')},${(x[0] > 0 ? 1 : 0) + (x[1] > 0 ? 1 : 0)}`);
  }
  return `${rows.join('\n')}\n`;
}

beforeAll(async () => {
  fixtures = tempDir('autoprune-rel-fixtures-');
  // Untrained and unsure of every class, deterministically (seeded first layer, output layer 0): an unseeded one is now
  // and then sure of one class, and a case that gets past the input checks would then be refused for that instead.
  const m = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'zeros' }),
  ] });
  await m.save(`file://${join(fixtures, 'm')}`);
  m.dispose();
  // A dilated convolution: tfjs has no gradients for it, so it cannot be fine-tuned.
  const dil = tf.sequential({ layers: [
    tf.layers.reshape({ inputShape: [4], targetShape: [4, 1] }),
    tf.layers.conv1d({ filters: 2, kernelSize: 2, dilationRate: 2, name: 'atrous' }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  await dil.save(`file://${join(fixtures, 'dil')}`);
  dil.dispose();
  writeFileSync(join(fixtures, 'd.csv'), csvRows(200));
});

type Setup = (cwd: string) => void;
// model.json edits reach into arbitrary depth of the Keras topology, which has no useful static type here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelJson = Record<string, any>;
/** A copy of the fixture model in `cwd/name` with model.json edited by `edit` (and optional file changes). */
function modelCopy(name: string, edit?: (j: ModelJson) => void, files?: (dir: string) => void): Setup {
  return (cwd) => {
    cpSync(join(fixtures, 'm'), join(cwd, name), { recursive: true });
    if (edit) {
      const j = JSON.parse(readFileSync(join(cwd, name, 'model.json'), 'utf8')) as ModelJson;
      edit(j);
      writeFileSync(join(cwd, name, 'model.json'), JSON.stringify(j));
    }
    files?.(join(cwd, name));
  };
}
const base: Setup = (cwd) => {
  cpSync(join(fixtures, 'm'), join(cwd, 'm'), { recursive: true });
  copyFileSync(join(fixtures, 'd.csv'), join(cwd, 'd.csv'));
};
const both = (...s: Setup[]): Setup => (cwd) => s.forEach((f) => f(cwd));
const prune = (...extra: string[]) => ['--target', '0.5', '--model', 'm', '--data', 'd.csv', '--out', 'out', '--policy', 'global-magnitude', ...extra];

/** `env`: environment variables of the run, given its working folder. */
interface Case { name: string; setup?: Setup; args: string[]; error: RegExp; env?: (cwd: string) => Record<string, string> }

const CASES: Case[] = [
  { name: 'a gelu_new activation (tfjs saves it under a name it cannot load)', setup: both(base, modelCopy('g', (j) => { j.modelTopology.config.layers[0].config.activation = 'gelu_new'; })), args: prune('--model', 'g'), error: /Unknown activation: geluNew: tfjs-layers saves its 'gelu_new' activation under a name it cannot load back .* use 'gelu'/ },
  { name: 'an autoprune output folder given as the model', setup: both(base, (cwd) => { cpSync(join(cwd, 'm'), join(cwd, 'run', 'model'), { recursive: true }); writeFileSync(join(cwd, 'run', 'report.json'), '{"format":"autoprune-report"}'); }), args: prune('--model', 'run'), error: /model folder 'run' is an autoprune output folder, not a model's: its pruned model is 'run\/model' \(give that to --model\)/ },
  { name: 'the data table given as the model', setup: base, args: prune('--model', 'd.csv'), error: /model file 'd\.csv' is a data table \(\.csv\), not a tfjs model\.json: give the model's model\.json \(or its folder\) there, and the table to --data/ },
  { name: 'the weight file given as the model', setup: base, args: prune('--model', 'm/weights.bin'), error: /model file 'm\/weights.bin' is a weight file \(binary\), not a model.json: give the model.json beside it, or its folder/ },
  { name: 'dilated convolution (no gradients in tfjs)', setup: both(base, (cwd) => cpSync(join(fixtures, 'dil'), join(cwd, 'dil'), { recursive: true })), args: prune('--model', 'dil'), error: /layer 'atrous' \(Conv1D, dilationRate \[?2\]?\) is a dilated convolution, and TensorFlow\.js cannot compute its gradients/ },
  // Model files: nothing outside the model's folder is read.
  { name: 'weights path escapes the folder (../)', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['../../../../etc/services']; })), args: prune(), error: /weights file '\.\.\/\.\.\/\.\.\/\.\.\/etc\/services' outside the model's folder/ },
  { name: 'model.json a link to a file outside the folder', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'ml')); symlinkSync('/etc/passwd', join(cwd, 'ml', 'model.json')); }), args: prune('--model', 'ml'), error: /model file 'ml' \(its model\.json\) is a link to a file outside the model's folder \('\/etc\/passwd'\)/ },
  { name: 'absolute weights path', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['/etc/services']; })), args: prune(), error: /by an absolute path/ },
  { name: 'weights file is a link to a file outside', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['w2.bin']; }, (d) => { copyFileSync(join(d, 'weights.bin'), join(d, '..', 'outside.bin')); symlinkSync(join(d, '..', 'outside.bin'), join(d, 'w2.bin')); })), args: prune(), error: /'w2.bin', a link to a file outside the model's folder/ },
  { name: 'inspect: traversal', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['../d.csv']; })), args: ['inspect', 'm'], error: /outside the model's folder/ },
  { name: 'compact: traversal', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['../d.csv']; })), args: ['compact', 'm', '--out', 'out'], error: /outside the model's folder/ },
  { name: 'compact: --out is the model folder', setup: base, args: ['compact', 'm', '--out', 'm'], error: /output folder 'm' is the input model's folder/ },
  { name: 'compact: --out holds a user compact/ folder', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'proj', 'compact'), { recursive: true }); writeFileSync(join(cwd, 'proj', 'compact', 'notes.txt'), 'mine'); }), args: ['compact', 'm', '--out', 'proj'], error: /'proj' holds compact\/notes.txt, not written by autoprune/ },
  { name: 'compact: --out holds a user model.sparse', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'proj')); writeFileSync(join(cwd, 'proj', 'model.sparse'), 'mine'); }), args: ['compact', 'm', '--out', 'proj'], error: /'proj' holds model.sparse, not written by autoprune/ },
  // A mistyped model folder beside --out (its parent was taken for the model's folder: the error was about --out).
  { name: 'a model folder that does not exist, --out beside it', setup: both(base, (cwd) => mkdirSync(join(cwd, 'sub'))), args: ['--target', '0.5', '--model', 'sub/nope', '--data', 'd.csv', '--out', 'sub/out'], error: /model file 'sub\/nope' does not exist/ },
  { name: 'an activity regularizer (tfjs cannot call such a layer)', setup: both(base, modelCopy('m', (j) => { j.modelTopology.config.layers[0].config.activity_regularizer = { class_name: 'L1L2', config: { l1: 0.01, l2: 0 } }; })), args: prune(), error: /cannot load model 'm': Layer invocation in the presence of activity regularizer\(s\) is not supported yet \(tfjs-layers\): layer '[^']+' has one; it only adds a training loss, so set activity_regularizer to null/ },
  { name: 'a model.json that is a folder', setup: both(base, (cwd) => mkdirSync(join(cwd, 'j', 'model.json'), { recursive: true })), args: prune('--model', 'j/model.json'), error: /model file 'j\/model\.json' is a folder, not a model\.json/ },
  // A layer without weights declaring a huge output (no weight count bounds it): refused before any work, naming it
  // (1e13 × 8 values: ~1 PB to fine-tune on one sample, beyond any machine's memory).
  { name: 'a RepeatVector of 1e13 per sample', setup: both(base, modelCopy('m', (j) => { j.modelTopology.config.layers.splice(1, 0, { class_name: 'RepeatVector', config: { n: 1e13, name: 'rv', trainable: true } }, { class_name: 'GlobalAveragePooling1D', config: { name: 'gap', data_format: 'channels_last', trainable: true } }); })), args: prune(), error: /model 'm': one sample's layer outputs are [\d.e+]+ values \(about \d+ GB to fine-tune on it\), more than half of the .* of memory here; the largest is layer 'rv' with 8\.00e\+13 values per sample/ },
  { name: 'compact: --out is another model\'s folder (through a link too)', setup: both(base, (cwd) => { cpSync(join(cwd, 'm'), join(cwd, 'm2'), { recursive: true }); symlinkSync(join(cwd, 'm2'), join(cwd, 'm2link')); }), args: ['compact', 'm', '--out', 'm2link'], error: /output folder 'm2link' holds a model \(model\.json\): compact writes into no model's folder/ },
  { name: 'compact: --out is the filesystem root', setup: base, args: ['compact', 'm', '--out', '/'], error: /is a filesystem root/ },
  // A recursive mkdir spins forever under /proc (a new user's trial): refused at once, before any work.
  { name: 'compact: --out under /proc', setup: base, args: ['compact', 'm', '--out', '/proc/autoprune-x'], error: /cannot write output folder '\/proc\/autoprune-x': '\/proc' is not writable/ },
  { name: 'compact: a model folder whose report.json is not autoprune\'s', setup: both(base, (cwd) => { writeFileSync(join(cwd, 'm', 'report.json'), '{"acc":1}'); mkdirSync(join(cwd, 'm', 'compact')); writeFileSync(join(cwd, 'm', 'compact', 'v1.txt'), 'keep'); }), args: ['compact', 'm'], error: /is a model folder, not an autoprune output/ },
  { name: 'truncated weights file', setup: both(base, modelCopy('m', undefined, (d) => { const b = readFileSync(join(d, 'weights.bin')); writeFileSync(join(d, 'weights.bin'), b.subarray(0, b.length - 8)); })), args: prune(), error: /weights files hold \d+ bytes but the manifest's weights need \d+/ },
  { name: 'NaN weight', setup: both(base, modelCopy('m', undefined, (d) => { const b = readFileSync(join(d, 'weights.bin')); b.writeFloatLE(Number.NaN, 0); writeFileSync(join(d, 'weights.bin'), b); })), args: prune(), error: /holds a non-finite value \(NaN\)/ },
  { name: 'Infinity weight', setup: both(base, modelCopy('m', undefined, (d) => { const b = readFileSync(join(d, 'weights.bin')); b.writeFloatLE(Number.POSITIVE_INFINITY, 8); writeFileSync(join(d, 'weights.bin'), b); })), args: prune(), error: /non-finite value \(Infinity\)/ },
  { name: 'declared 1e8 units', setup: both(base, modelCopy('m', (j) => { j.modelTopology.config.layers[0].config.units = 1e8; })), args: prune(), error: /declares units 100000000, more than the \d+ weights/ },
  { name: 'graph model', setup: both(base, modelCopy('m', (j) => { j.format = 'graph-model'; j.modelTopology = { node: Array(200).fill({ name: 'n', op: 'Const' }) }; })), args: prune(), error: /is a tfjs graph model .* tensorflowjs_converter/ },
  { name: 'model.json nested 100,000 levels deep', setup: both(base, (cwd) => { const f = join(cwd, 'm', 'model.json'); const t = readFileSync(f, 'utf8'); writeFileSync(f, t.replace('{', `{"x":${'['.repeat(100000)}${']'.repeat(100000)},`)); }), args: ['inspect', 'm'], error: /nests its JSON more than 1000 levels deep/ },
  { name: 'model.json not JSON', setup: both(base, (cwd) => writeFileSync(join(cwd, 'm', 'model.json'), '{oops')), args: prune(), error: /is not valid JSON/ },
  { name: 'a sparse export given as the model', setup: both(base, (cwd) => writeFileSync(join(cwd, 'm', 'model.json'), Buffer.from([0x41, 0x50, 0x53, 0x46, 1, 0, 0, 0, 0xff]))), args: prune(), error: /is an autoprune sparse export \(\.sparse\), not a tfjs model\.json: read it with decodeSparse/ },
  { name: 'model.json is an array', setup: both(base, (cwd) => writeFileSync(join(cwd, 'm', 'model.json'), '[]')), args: prune(), error: /not a tfjs model.json/ },
  { name: 'model.json without weightsManifest', setup: both(base, modelCopy('m', (j) => { delete j.weightsManifest; })), args: prune(), error: /has no weightsManifest: its weights are not in the model/ },
  { name: 'manifest weight without shape', setup: both(base, modelCopy('m', (j) => { delete j.weightsManifest[0].weights[0].shape; })), args: prune(), error: /has no valid shape/ },
  { name: 'unknown weight dtype', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].weights[0].dtype = 'complex64'; })), args: prune(), error: /unsupported dtype 'complex64'/ },
  { name: 'weights path is a folder', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['sub']; }, (d) => mkdirSync(join(d, 'sub')))), args: prune(), error: /'sub', which is not a regular file/ },
  { name: 'missing weights file', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = ['nope.bin']; })), args: prune(), error: /'nope.bin', which is missing/ },
  { name: 'model folder without model.json', setup: both(base, (cwd) => mkdirSync(join(cwd, 'empty'))), args: ['--target', '0.5', '--model', 'empty', '--data', 'd.csv', '--out', 'out'], error: /model folder 'empty' holds no model\.json/ },
  { name: 'model path does not exist', setup: base, args: ['--target', '0.5', '--model', 'nope', '--data', 'd.csv', '--out', 'out'], error: /model file 'nope' does not exist/ },
  // Output folders: never delete an input, never write outside --out.
  { name: '--out is a symlink to the model folder', setup: both(base, (cwd) => symlinkSync(join(cwd, 'm'), join(cwd, 'mlink'))), args: ['--target', '0.5', '--model', 'mlink', '--data', 'd.csv', '--out', 'mlink', '--overwrite'], error: /is the input model's folder, which writing the outputs would delete/ },
  { name: '--out is the real folder of a linked model', setup: both(base, (cwd) => symlinkSync(join(cwd, 'm'), join(cwd, 'mlink'))), args: ['--target', '0.5', '--model', 'mlink', '--data', 'd.csv', '--out', 'm', '--overwrite'], error: /is the input model's folder, which writing the outputs would delete/ },
  { name: '--out holds the data file', setup: base, args: prune('--overwrite').map((a) => (a === 'out' ? '.' : a)), error: /holds the current working directory|holds the data file/ },
  { name: '--out is a symlink to an empty folder', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'emptydir')); symlinkSync('emptydir', join(cwd, 'outlink')); }), args: prune().map((a) => (a === 'out' ? 'outlink' : a)), error: /output path 'outlink' is a symbolic link \(to 'emptydir'\); give the folder itself/ },
  { name: '--out is a dangling symlink', setup: both(base, (cwd) => symlinkSync('/nonexistent-autoprune', join(cwd, 'outlink'))), args: prune().map((a) => (a === 'out' ? 'outlink' : a)), error: /'outlink' is a symbolic link \(to '\/nonexistent-autoprune', which does not exist\)/ },
  { name: '--out is a file', setup: base, args: ['--target', '0.5', '--model', 'm', '--data', 'd.csv', '--out', 'd.csv', '--overwrite'], error: /is the data file,|holds the data file|exists and is not a folder/ },
  { name: '--out is a plain file (not an input)', setup: both(base, (cwd) => writeFileSync(join(cwd, 'f.txt'), 'x')), args: prune('--overwrite').map((a) => (a === 'out' ? 'f.txt' : a)), error: /'f.txt' exists and is not a folder/ },
  { name: '--out is the filesystem root', setup: base, args: prune('--overwrite').map((a) => (a === 'out' ? '/' : a)), error: /is a filesystem root/ },
  { name: '--out a name longer than a file system takes', setup: base, args: prune().map((a) => (a === 'out' ? 'c'.repeat(300) : a)), error: /output folder 'c+': a name in it is 300 bytes long \('c{24}…'\), over the 255 a file system takes; choose a shorter --out/ },
  { name: '--out a name its temporary name would take past 255', setup: base, args: prune().map((a) => (a === 'out' ? 'e'.repeat(250) : a)), error: /its name is 250 bytes long, and the outputs are first written under a temporary name 22 bytes longer, over the 255 a file system takes: at most 233/ },
  { name: '--out under /proc', setup: base, args: prune().map((a) => (a === 'out' ? '/proc/autoprune/x' : a)), error: /'\/proc' is not writable \(ENOENT: nothing can be created there, a virtual file system such as \/proc or \/sys\)/ },
  { name: '--resume on a folder without a checkpoint', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out')); writeFileSync(join(cwd, 'out', 'report.json'), '{}'); }), args: prune('--resume'), error: /nothing to resume: output folder 'out' holds no checkpoint/ },
  { name: '--out exists without --overwrite', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out')); writeFileSync(join(cwd, 'out', 'x'), ''); }), args: prune(), error: /already exists; pass --overwrite/ },
  { name: '--overwrite on a folder that is not an autoprune output', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out')); writeFileSync(join(cwd, 'out', 'keep.txt'), 'mine'); }), args: prune('--overwrite'), error: /'out' is not an autoprune output \(no autoprune report.json or masks.json in it\): --overwrite only replaces a previous run's output/ },
  { name: '--overwrite on a folder whose report.json is not autoprune\'s', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out')); writeFileSync(join(cwd, 'out', 'report.json'), '{"mine":1}'); writeFileSync(join(cwd, 'out', 'thesis.txt'), 'precious'); }), args: prune('--overwrite'), error: /'out' is not an autoprune output \(no autoprune report.json or masks.json in it\)/ },
  { name: '--overwrite on an output folder with a user file inside model/ and compact/', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out', 'model'), { recursive: true }); mkdirSync(join(cwd, 'out', 'compact')); writeFileSync(join(cwd, 'out', 'report.json'), '{"format":"autoprune-report"}'); writeFileSync(join(cwd, 'out', 'model', 'model.json'), '{}'); writeFileSync(join(cwd, 'out', 'model', 'NOTES.txt'), 'mine'); writeFileSync(join(cwd, 'out', 'compact', 'thesis.txt'), 'precious'); }), args: prune('--overwrite'), error: /'out' holds entries autoprune does not write \(model\/NOTES.txt, compact\/thesis.txt\), which --overwrite would delete/ },
  { name: '--out inside another run\'s output (its frontier row), with --overwrite', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out', 'frontier', '0.8', 'model'), { recursive: true }); writeFileSync(join(cwd, 'out', 'report.json'), '{"format":"autoprune-report"}'); writeFileSync(join(cwd, 'out', 'frontier', '0.8', 'masks.json'), '{"format":"autoprune-masks"}'); writeFileSync(join(cwd, 'out', 'frontier', '0.8', 'model', 'model.json'), '{}'); }), args: prune('--overwrite', '--out', 'out/frontier/0.8'), error: /output folder 'out\/frontier\/0\.8' is inside another autoprune run's output folder '.*\/out', whose files would then describe other outputs; choose a --out outside it/ },
  { name: '--overwrite on an output folder holding other files', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out')); writeFileSync(join(cwd, 'out', 'report.json'), '{"format":"autoprune-report"}'); writeFileSync(join(cwd, 'out', 'thesis.txt'), 'precious'); }), args: prune('--overwrite'), error: /'out' holds an entry autoprune does not write \(thesis.txt\), which --overwrite would delete/ },
  { name: '--overwrite on an output folder holding the policy file', setup: both(base, (cwd) => { mkdirSync(join(cwd, 'out')); writeFileSync(join(cwd, 'out', 'report.json'), '{"format":"autoprune-report"}'); writeFileSync(join(cwd, 'out', 'p.json'), '{}'); }), args: prune('--overwrite', '--policy', 'out/p.json'), error: /holds the policy file 'out\/p.json'/ },
  { name: '--out holds the working directory', setup: base, args: prune('--overwrite').map((a) => (a === 'out' ? '..' : a)), error: /holds the current working directory|holds the input model/ },
  { name: '--out locked by a running run', setup: both(base, (cwd) => { const lock = lockFileIn(CACHE, join(cwd, 'out')); mkdirSync(dirname(lock), { recursive: true }); writeFileSync(lock, String(process.pid)); }), args: prune(), error: /in use by another autoprune run \(pid \d+\)/ },
  // Data files.
  { name: 'data is a symlink to /dev/zero', setup: both(base, (cwd) => symlinkSync('/dev/zero', join(cwd, 'z.csv'))), args: prune().map((a) => (a === 'd.csv' ? 'z.csv' : a)), error: /'z.csv' is not a regular file/ },
  { name: 'data is a folder', setup: both(base, (cwd) => mkdirSync(join(cwd, 'dd.csv'))), args: prune().map((a) => (a === 'd.csv' ? 'dd.csv' : a)), error: /'dd.csv' is not a regular file/ },
  { name: 'data over the size limit', setup: base, args: prune(), error: /over the 0.001 MB limit \(AUTOPRUNE_MAX_DATA_MB\); set AUTOPRUNE_MAX_DATA_MB/ },
  { name: 'a size limit that is not a size', setup: base, args: prune(), error: /AUTOPRUNE_MAX_DATA_MB='abc' is not a size: give a positive number of megabytes/ },
  { name: 'CSV cell 1e999 overflows', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${csvRows(50)}1e999,0,0,0,1\n`)), args: prune(), error: /'1e999' overflows to Infinity/ },
  { name: 'CSV cell too large for float32', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${csvRows(50)}1e40,0,0,0,1\n`)), args: prune(), error: /line 52, column 'a': '1e40' is too large for float32/ },
  { name: 'too few validation rows for a guard', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), csvRows(60))), args: prune(), error: /the validation split has [6-9] rows: too few for the accuracy guard .* or --force/ },
  { name: 'too few validation rows, the built-in model (refused before its training)', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), csvRows(60))), args: ['--target', '0.5', '--data', 'd.csv', '--out', 'out'], error: /the validation split has [6-9] rows: too few for the accuracy guard/ },
  { name: 'CSV cell Infinity', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${csvRows(50)}Infinity,0,0,0,1\n`)), args: prune(), error: /'Infinity' is not a number/ },
  { name: 'CSV cell NaN', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${csvRows(50)}NaN,0,0,0,1\n`)), args: prune(), error: /'NaN' is not a number/ },
  { name: 'CSV cell NA (a missing value)', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${csvRows(50)}NA,0,0,0,1\n`)), args: prune(), error: /line 52, column 'a': 'NA' is not a number; autoprune does not fill in missing values: drop or fill the rows with cells like 'NA' \(as the model was trained\)/ },
  { name: '--label in another letter case', setup: base, args: prune('--label', 'Y'), error: /no label column 'Y' \(did you mean 'y'\? names match exactly, letter case included\); columns are: / },
  { name: 'CSV ragged row', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${csvRows(50)}1,2\n`)), args: prune(), error: /line 52/ },
  { name: 'data is a folder (no file extension)', setup: both(base, (cwd) => mkdirSync(join(cwd, 'tables'))), args: prune().map((a) => (a === 'd.csv' ? 'tables' : a)), error: /data 'tables' is a folder, not a data file: it holds no data file \(\.csv, \.tsv, \.tab or \.txt\): give the path of one; built in: / },
  {
    name: 'data is a folder of tables: its files are named, not a made-up one',
    setup: both(base, (cwd) => { mkdirSync(join(cwd, 'tables')); for (const f of ['b.csv', 'a.csv', 'notes.md', 'c.tsv', 'd.csv']) writeFileSync(join(cwd, 'tables', f), 'x\n'); }),
    args: prune().map((a) => (a === 'd.csv' ? 'tables' : a)),
    error: /data 'tables' is a folder, not a data file: give one of its data files \(e\.g\. --data tables\/a\.csv; it holds 4: a\.csv, b\.csv, c\.tsv, …\)/,
  },
  {
    name: 'one-hot label columns read as inputs (no --label)',
    setup: both(base, (cwd) => writeFileSync(join(cwd, 'oh.csv'), `a,b,c,d,red,green,blue\n${Array.from({ length: 60 }, (_, i) => `${i % 7},${i % 3},${i % 5},${i % 2},${i % 3 === 0 ? 1 : 0},${i % 3 === 1 ? 1 : 0},${i % 3 === 2 ? 1 : 0}`).join('\n')}\n`)),
    args: prune().map((a) => (a === 'd.csv' ? 'oh.csv' : a)),
    error: /has 6 input values per sample .* if the last 3 columns are one-hot labels, one 1 per row, name them in the model's output order: --label red,green,blue\)/,
  },
  {
    name: 'a label-first table (Kaggle\'s layout, the last column read as the label): the label column is named',
    setup: both(base, (cwd) => writeFileSync(join(cwd, 'k.csv'), `label,a,b,c,d\n${Array.from({ length: 60 }, (_, i) => `${i % 3},${i % 7},${i % 3},${i % 5},0`).join('\n')}\n`)),
    args: prune().map((a) => (a === 'd.csv' ? 'k.csv' : a)),
    error: /k\.csv: all \d+ samples have the label '0' \(column 'd'\); a classifier needs at least two classes; column 'label' looks like the label: pass --label label$/,
  },
  {
    name: 'an unnamed index column (pandas to_csv) read as an input',
    setup: both(base, (cwd) => { const [head, ...rows] = readFileSync(join(cwd, 'd.csv'), 'utf8').trim().split('\n'); writeFileSync(join(cwd, 'i.csv'), `,${head}\n${rows.map((r, i) => `${i},${r}`).join('\n')}\n`); }),
    args: prune().map((a) => (a === 'd.csv' ? 'i.csv' : a)),
    error: /has 5 input values per sample \(shape \[5\]: \(unnamed column\), a, b, c, d; label column: \w+\) but the model expects shape \[4\].*left out with --ignore-columns NAME\|INDEX \(the unnamed one by its 0-based index in the file: --ignore-columns 0 for the first column\)$/,
  },
  { name: 'build-meta: --out under a file (said before the oracle runs)', setup: base, args: ['build-meta', '--family', 'f', '--models', 'm', '--data', 'd.csv', '--out', 'd.csv/meta.json'], error: /--out 'd\.csv\/meta\.json': '.*d\.csv' is a file, not a folder$/ },
  // A device or FIFO at --out would be replaced by the file (as root, /dev/null) or block the final open deaf to SIGTERM
  // (the FIFO stands for both: a test that replaced /dev/null on a regression would break the machine running it).
  { name: 'train-policy: --out is a FIFO', setup: both(base, (cwd) => execFileSync('mkfifo', [join(cwd, 'pol.json')])), args: ['train-policy', '--meta', 'm.json', '--out', 'pol.json'], error: /--out 'pol\.json' is not a regular file \(a device, pipe or socket\)/ },
  { name: 'compact: the cache folder inside the model\'s folder', setup: base, args: ['compact', 'm', '--out', 'out'], env: (cwd) => ({ AUTOPRUNE_CACHE_DIR: join(cwd, 'm', 'c') }), error: /the cache folder '.*m\/c' is the input model's folder/ },
  { name: 'train-policy: --out is a folder', setup: both(base, (cwd) => mkdirSync(join(cwd, 'pol.json'))), args: ['train-policy', '--meta', 'm.json', '--out', 'pol.json'], error: /--out 'pol\.json' is a folder: give the path of a file to write$/ },
  { name: 'build-meta: --out is the model.json it reads', setup: base, args: ['build-meta', '--family', 'f', '--models', 'm', '--data', 'd.csv', '--out', 'm/model.json'], error: /--out 'm\/model\.json' is an input of this command \('m'\), which is never written to/ },
  // Found by a new user's audit: --out into the model's folder, over a file of theirs, over the rows file just read.
  { name: 'build-meta: --out in the input model\'s folder', setup: base, args: ['build-meta', '--family', 'f', '--models', 'm', '--data', 'd.csv', '--out', 'm/meta.json'], error: /--out 'm\/meta\.json' is in the input model's folder '.*\/m', which is never written to/ },
  { name: 'build-meta: --out over a JSON file autoprune did not write', setup: both(base, (cwd) => writeFileSync(join(cwd, 'user.json'), '{"mine":1}')), args: ['build-meta', '--family', 'f', '--models', 'm', '--data', 'd.csv', '--out', 'user.json'], error: /--out 'user\.json' exists and is not a meta-dataset header autoprune wrote: it is never replaced/ },
  { name: 'build-meta: --out beside a rows file of the user\'s', setup: both(base, (cwd) => writeFileSync(join(cwd, 'x.bin.gz'), 'mine')), args: ['build-meta', '--family', 'f', '--models', 'm', '--data', 'd.csv', '--out', 'x.json'], error: /--out \(its rows file\) 'x\.bin\.gz' exists and is not the rows file of a meta-dataset autoprune wrote/ },
  { name: 'train-policy: --out over the user\'s model.json', setup: both(base, (cwd) => writeFileSync(join(cwd, 'meta.json'), '{}')), args: ['train-policy', '--meta', 'meta.json', '--out', 'm/model.json'], error: /--out 'm\/model\.json' exists and is not a policy file autoprune wrote: it is never replaced/ },
  { name: 'train-policy: --out is the rows file of its --meta', setup: both(base, (cwd) => { writeFileSync(join(cwd, 'meta.json'), '{"data":"meta.bin.gz"}'); writeFileSync(join(cwd, 'meta.bin.gz'), 'rows'); }), args: ['train-policy', '--meta', 'meta.json', '--out', 'meta.bin.gz'], error: /--out 'meta\.bin\.gz' is an input of this command \('.*meta\.bin\.gz'\)/ },
  { name: 'train-policy: --out is its --meta file', setup: both(base, (cwd) => writeFileSync(join(cwd, 'meta.json'), '{}')), args: ['train-policy', '--meta', 'meta.json', '--out', 'meta.json'], error: /--out 'meta\.json' is an input of this command \('meta\.json'\)/ },
  { name: 'data file missing', setup: base, args: prune().map((a) => (a === 'd.csv' ? 'nope.csv' : a)), error: /data file 'nope.csv' does not exist/ },
  // Command line.
  { name: 'unknown command', args: ['frobnicate', '--target', '0.5'], error: /unknown command or stray argument 'frobnicate'/ },
  { name: 'an empty --out', args: ['--target', '0.5', '--out', ''], error: /--out must not be empty, got ''$/ },
  { name: 'a command after options', args: ['--json', 'doctor'], error: /'doctor' is a command: put it first, its options after it \(autoprune doctor … --json; autoprune doctor --help\)/ },
  { name: 'stray positional after flags', args: ['--target', '0.5', 'extra'], error: /stray argument 'extra'/ },
  { name: 'unknown flag', args: ['--target', '0.5', '--bogus'], error: /unknown option '--bogus' \(run autoprune --help for usage\)/ },
  { name: 'a subcommand\'s flag missing: its own help is named', args: ['train-policy', '--meta', 'm.json'], error: /required option '--out <file>' not specified \(run autoprune train-policy --help for usage\)/ },
  { name: 'missing --target', args: [], error: /required option .*--target/ },
  { name: 'target 1', args: ['--target', '1'], error: /--target must be/ },
  { name: 'negative seed', args: ['--target', '0.5', '--seed', '-1'], error: /--seed/ },
  { name: 'budget 0', args: ['--target', '0.5', '--budget', '0'], error: /--budget/ },
  { name: 'resume without a checkpoint', setup: base, args: prune('--resume'), error: /nothing to resume/ },
  { name: 'resume without a checkpoint, the built-in model (refused before its first training)', setup: base, args: ['--target', '0.5', '--data', 'd.csv', '--out', 'never', '--resume'], error: /nothing to resume: no checkpoint for output folder 'never' \(expected '.*'\); run again without --resume$/ },
  { name: 'unknown policy', setup: base, args: prune('--policy', 'nope'), error: /no policy 'nope'/ },
  // More data and flag classes.
  { name: '--split with two parts', setup: base, args: prune('--split', '0.5,0.5'), error: /--split must be three/ },
  { name: '--split not numbers', setup: base, args: prune('--split', 'a,b,c'), error: /--split must be three/ },
  { name: '--input-scale not a positive number', setup: base, args: prune('--input-scale', '1/0'), error: /--input-scale must be a positive number or fraction, e\.g\. 1\/255/ },
  { name: '--input-scale with --standardize', setup: base, args: prune('--input-scale', '1/255', '--standardize'), error: /^autoprune: error: --input-scale and --standardize together: z-scores undo any scale; give one of them$/m },
  { name: '--input-scale on built-in data', args: ['--target', '0.5', '--data', 'synthetic', '--input-scale', '0.5'], error: /--input-scale applies only to CSV data/ },
  { name: '--val-data missing', setup: base, args: prune('--val-data', 'nope.csv'), error: /the --val-data file 'nope.csv' does not exist/ },
  { name: '--label unknown column', setup: base, args: prune('--label', 'zzz'), error: /zzz/ },
  { name: '--label-order lists more names than the model has outputs', setup: base, args: prune('--label-order', '0,1,2,3'), error: /--label-order lists 4 names but the model's output has \d+ unit\(s\)/ },
  { name: '--label index out of range', setup: base, args: prune('--label', '99'), error: /label column index 99 is out of range: the file has 5 columns/ },
  { name: 'CSV with one class', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${CSV_HEADER}\n${Array.from({ length: 40 }, (_, i) => `${i},1,2,3,0`).join('\n')}\n`)), args: prune(), error: /all 40 samples/ },
  { name: 'CSV empty file', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), '')), args: prune(), error: /d\.csv/ },
  { name: 'CSV header only', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${CSV_HEADER}\n`)), args: prune(), error: /d\.csv/ },
  { name: 'CSV with fewer feature columns than the model', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `a,b,y\n${Array.from({ length: 60 }, (_, i) => `${i % 7},${i % 3},${i % 2}`).join('\n')}\n`)), args: prune(), error: /2 input values per sample \(shape \[2\]: a, b; label column: y\) but the model expects shape/ },
  // Ignoring the label column makes the column before it the label (the last one not ignored): the error says which it read.
  { name: 'the label column ignored', setup: base, args: prune('--ignore-columns', 'y'), error: /3 input values per sample \(shape \[3\]: a, b, c; label column: d\) but the model expects shape \[4\]/ },
  { name: 'CSV-only flag on built-in data', args: ['--target', '0.5', '--data', 'synthetic', '--split', '0.8,0.1,0.1'], error: /--split/ },
  { name: '--max-drop over 100', args: ['--target', '0.5', '--max-drop', '101'], error: /--max-drop/ },
  { name: '--max-drop not a number', args: ['--target', '0.5', '--max-drop', 'abc'], error: /--max-drop must be a number/ },
  { name: '--budget-steps 0', args: ['--target', '0.5', '--budget-steps', '0'], error: /--budget-steps/ },
  { name: '--batch-size 0', args: ['--target', '0.5', '--batch-size', '0'], error: /--batch-size/ },
  { name: 'unknown --granularity', args: ['--target', '0.5', '--granularity', 'bogus'], error: /bogus/ },
  { name: '--out inside the input model folder', setup: base, args: ['--target', '0.5', '--model', 'm', '--data', 'd.csv', '--out', 'm/pruned'], error: /error: output folder 'm\/pruned' is inside the input model's folder '.*m', which is never written to; choose another --out$/ },
  { name: '--logdir inside the input model folder', setup: base, args: prune('--logdir', 'm/logs'), error: /--logdir 'm\/logs' is inside the input model's folder/ },
  // A run refused after its --logdir was checked leaves no logdir behind (the writer is made at the run's start).
  { name: 'a target under one weight', setup: base, args: ['--target', '1e-9', '--model', 'm', '--data', 'd.csv', '--out', 'out'], error: /target 1e-9 is less than one of the \d+ prunable kernel weights \(one weight is [\d.e-]+\): it would prune nothing/ },
  { name: '--logdir of a refused run is not made', setup: base, args: prune('--logdir', 'tb', '--exclude', 'nosuch'), error: /exclude pattern 'nosuch' matches no prunable kernel/ },
  { name: '--logdir a dangling symbolic link', setup: both(base, (cwd) => symlinkSync(join(cwd, 'gone'), join(cwd, 'tb'))), args: prune('--logdir', 'tb'), error: /--logdir 'tb' is a symbolic link to '.*gone', which does not exist/ },
  { name: '--logdir the filesystem root', setup: base, args: prune('--logdir', '/'), error: /--logdir '\/' is a filesystem root/ },
  // The cache takes the run's lock and checkpoints: never the input model's folder, and a dangling link is named.
  { name: 'the cache folder inside the input model\'s folder', setup: base, args: prune(), env: (cwd) => ({ AUTOPRUNE_CACHE_DIR: join(cwd, 'm', 'cache') }), error: /the cache folder '.*m\/cache' is the input model's folder '.*m' \(or inside it\), which is never written to/ },
  { name: 'the cache folder a dangling link', setup: both(base, (cwd) => symlinkSync(join(cwd, 'gone'), join(cwd, 'cache'))), args: prune(), env: (cwd) => ({ AUTOPRUNE_CACHE_DIR: join(cwd, 'cache') }), error: /the cache folder '.*cache' is a symbolic link to '.*gone', which does not exist/ },
  { name: '--out inside the folder of a model.json given by its path', setup: base, args: ['--target', '0.5', '--model', 'm/model.json', '--data', 'd.csv', '--out', 'm/pruned'], error: /error: output folder 'm\/pruned' is inside the input model's folder '.*m', which is never written to; choose another --out$/ },
  { name: '--batch-size over its maximum', args: ['--target', '0.5', '--batch-size', '100000'], error: /error: --batch-size must be at most 65536, got '100000'$/ },
  { name: '--targets twice the same', args: ['--targets', '0.8,0.8'], error: /error: --targets needs at least two different targets for a frontier \(got 0\.8,0\.8\); for one target use --target 0\.8$/ },
  { name: 'unknown --backend', args: ['--target', '0.5', '--backend', 'tpu'], error: /tpu/ },
  { name: 'flops objective at connection granularity', args: ['--target', '0.5', '--objective', 'flops', '--granularity', 'connection'], error: /--objective flops needs --granularity unit/ },
  // Label cells that are missing values are refused by line, not read as a class (a new user's '?' rows drew advice to drop a real class).
  { name: "a label '?' (a missing value)", setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), csvRows(60).replace(/,2\n/g, ',?\n'))), args: prune(), error: /d\.csv line \d+, column 'y': the label is missing \('\?', as in \d+ rows\); autoprune does not guess labels/ },
  { name: "a label 'NA' (a missing value)", setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), csvRows(60).replace(/,2\n/, ',NA\n'))), args: prune(), error: /d\.csv line \d+, column 'y': the label is missing \('NA'\)/ },
  { name: 'labels that differ only in case', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), csvRows(60).replace(/,0\n/g, ',x\n').replace(/,1\n/g, ',y\n').replace(/,2\n/g, ',z\n').replace(/,x\n/, ',X\n'))), args: prune(), error: /has 4 classes \(X, x, y, z\) but the model's output has 3: 'X' and 'x' differ only in case/ },
  { name: '--task regression without a model (the built-in model is a classifier)', setup: base, args: ['--target', '0.5', '--data', 'd.csv', '--task', 'regression', '--out', 'out'], error: /--task regression needs your model \(--model\): the built-in model .* is a classifier$/ },
  { name: 'a regression target without a model', setup: (cwd) => writeFileSync(join(cwd, 'r.csv'), `a,b,mpg\n${Array.from({ length: 90 }, (_, i) => `${Math.sin(i)},${Math.cos(i)},${(10 + i * 0.37).toFixed(2)}`).join('\n')}\n`), args: ['--target', '0.5', '--data', 'r.csv', '--out', 'out'], error: /the label column 'mpg' holds 90 distinct numbers .* looks like a regression target, and the built-in model .* is a classifier/ },
  { name: 'a headerless file whose first row reads as a header', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), csvRows(40).split('\n').slice(1).filter(Boolean).map((l, i) => `${i % 2 ? 'p' : 'q'},${l.split(',').slice(1).join(',')}`).join('\n'))), args: prune(), error: /line 1 was read as a header, but it holds numbers such as '[-\d.]+': if the file has no header row, give the label column by its 0-based index \(--label 0 if it is this column of words\)/ },
  { name: 'latency objective at connection granularity', args: ['--target', '0.5', '--objective', 'latency', '--granularity', 'connection'], error: /--objective latency needs --granularity unit \(only whole units\/filters save time\)/ },
  { name: '--serving-batch where nothing is timed', args: ['--target', '0.5', '--serving-batch', '64'], error: /--serving-batch applies to --objective latency .* and to --compact .*; this run has neither$/ },
  { name: '--serving-batch 0', args: ['--target', '0.5', '--objective', 'latency', '--serving-batch', '0'], error: /--serving-batch must be at least 1, got '0'/ },
  { name: 'inspect: missing model', args: ['inspect', 'nope'], error: /'nope' does not exist/ },
  { name: 'compact: folder without a model', setup: (cwd) => mkdirSync(join(cwd, 'empty')), args: ['compact', 'empty', '--out', 'out'], error: /empty/ },
  { name: 'manifest paths not a list', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].paths = 'weights.bin'; })), args: prune(), error: /no paths\/weights lists/ },
  { name: 'model.json empty', setup: both(base, (cwd) => writeFileSync(join(cwd, 'm', 'model.json'), '')), args: prune(), error: /is not valid JSON/ },
  { name: 'weights file longer than the manifest', setup: both(base, modelCopy('m', undefined, (d) => { const b = readFileSync(join(d, 'weights.bin')); writeFileSync(join(d, 'weights.bin'), Buffer.concat([b, Buffer.alloc(16)])); })), args: prune(), error: /hold \d+ bytes but the manifest's weights need \d+/ },
  { name: 'a quoted cell with a line break (read as a second message line before)', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${CSV_HEADER}\n"abc\nautoprune: target reached",1,2,3,x\n${csvRows(40).split('\n').slice(1).join('\n')}`)), args: prune(), error: /'abc ⏎ autoprune: target reached' is not a number/ },
  { name: 'a cell with terminal escape codes', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${CSV_HEADER}\n\u001b[2J\u001b[31mEVIL,1,2,3,x\n${csvRows(40).split('\n').slice(1).join('\n')}`)), args: prune(), error: /'\\x1b\[2J\\x1b\[31mEVIL' is not a number/ },
  { name: 'regression target', setup: both(base, (cwd) => writeFileSync(join(cwd, 'd.csv'), `${CSV_HEADER}\n${Array.from({ length: 80 }, (_, i) => `${Math.sin(i)},${Math.cos(i)},1,2,${(i * 1.37).toFixed(2)}`).join('\n')}\n`)), args: prune(), error: /label column 'y' holds 80 distinct numbers .* and the model has 3 output unit\(s\) \(softmax\): a classifier's label, not this column; name the label column with --label \(the file's columns: a, b, c, d\)$/ },
  // A linear output read as logits (no loss saved): a CSV with one column per output beyond the inputs names --task regression.
  { name: 'multi-target regression model without its loss', setup: both(base, modelCopy('m', (j) => { const layers = j.modelTopology.config.layers; layers[layers.length - 1].config.activation = 'linear'; }), (cwd) => writeFileSync(join(cwd, 'd.csv'), `a,b,c,d,y1,y2,y3\n${Array.from({ length: 60 }, (_, i) => `${Math.sin(i)},${Math.cos(i)},1,2,${i},${2 * i},${3 * i}`).join('\n')}\n`)), args: prune(), error: /6 input values per sample .*the model's 3 linear outputs are read as a classifier's logits .* pass --task regression: its CSV holds the inputs, then its 3 target columns last/ },
  { name: 'test file with a number the training labels lack (a regression target read as classes)', setup: both(base, (cwd) => { writeFileSync(join(cwd, 'd.csv'), `${CSV_HEADER}\n${Array.from({ length: 80 }, (_, i) => `${Math.sin(i)},${Math.cos(i)},1,2,${(i * 1.37).toFixed(2)}`).join('\n')}\n`); writeFileSync(join(cwd, 't.csv'), `${CSV_HEADER}\n0.1,0.2,1,2,999.5\n`); }), args: prune('--test-data', 't.csv'), error: /t\.csv line 2: label '999\.5' does not occur in the training data .*look like a regression target .*pass --task regression/ },
  { name: 'negative dimension in the manifest', setup: both(base, modelCopy('m', (j) => { j.weightsManifest[0].weights[0].shape = [-4, 8]; })), args: prune(), error: /has no valid shape/ },
];
describe('bad input and faults: one line, exit 2, inputs intact, nothing left behind', () => {
  // The cases are independent CLI processes in folders of their own, most of the time loading TensorFlow: run
  // side by side (vitest's maxConcurrency, 5), they take about half the time on two cores.
  it.concurrent.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const cwd = tempDir();
    const work = join(cwd, 'w');
    mkdirSync(work);
    c.setup?.(work);
    const before = tree(cwd);
    const env: Record<string, string> = c.env?.(work) ?? (c.name === 'data over the size limit' ? { AUTOPRUNE_MAX_DATA_MB: '0.001' } : c.name === 'a size limit that is not a size' ? { AUTOPRUNE_MAX_DATA_MB: 'abc' } : {});
    const r = await cli(c.args, { cwd: work, env });
    expectCleanUsageError(r, c.error);
    const after = tree(cwd);
    expect([...after]).toEqual([...before]);
  }, 60_000);

  it('--json: a flag-parsing error is an error event too', async () => {
    const r = await cli(['--target', '0.5', '--bogus', '--json'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ type: 'error', exitCode: 2, message: expect.stringContaining('--bogus') });
  });

  it('a read-only output folder is refused, not replaced with other permissions', async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere: not testable here
    const cwd = tempDir();
    const out = join(cwd, 'ro');
    mkdirSync(out);
    chmodSync(out, 0o555);
    const r = await cli(['--target', '0.5', '--data', 'synthetic', '--out', out], { cwd });
    expectCleanUsageError(r, /output folder '.*ro' is not writable \(its permissions\)/);
    expect(statSync(out).mode & 0o777).toBe(0o555);
  });

  it('a read-only cache folder is refused before the default model is trained', async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere: not testable here
    const cache = tempDir();
    chmodSync(cache, 0o500);
    const r = await cli(['--target', '0.5', '--data', 'synthetic', '--out', 'o'], { cwd: tempDir(), env: { AUTOPRUNE_CACHE_DIR: join(cache, 'c') } });
    expectCleanUsageError(r, /not writable/);
    expect(statSync(cache).isDirectory()).toBe(true);
  });

  it('--backend cpu loads a file model (no file:// handler needed)', async () => {
    const cwd = tempDir();
    base(cwd);
    const r = await cli([...prune('--backend', 'cpu', '--budget-steps', '4')], { cwd });
    expect([0, 3]).toContain(r.code);
    expect(JSON.parse(readFileSync(join(cwd, 'out', 'report.json'), 'utf8')).backend.name).toBe('cpu');
  }, 60_000);

  it('a closed stdout (--json | head -1) ends the run without a stack trace', async () => {
    const cwd = tempDir();
    base(cwd);
    const child = spawn(process.execPath, [BIN, ...prune('--json')], { cwd, env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect([0, 130]).toContain(code);
    expect(err).not.toMatch(/EPIPE|^\s+at /m);
  }, 60_000);

  it('a closed stderr (progress piped to head) does not end the work: the run finishes, writes, and keeps its exit code', async () => {
    const cwd = tempDir();
    base(cwd);
    const child = spawn(process.execPath, [BIN, ...prune('--budget-steps', '4')], { cwd, env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.once('data', () => child.stderr.destroy());
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect([0, 3]).toContain(code);
    expect(existsSync(join(cwd, 'out', 'report.json'))).toBe(true);
  }, 60_000);
});
