/**
 * The autoprune command line. This file only parses flags and lazy-imports one command; every command
 * is a typed async function over the library. Exactly one top-level catch turns errors into exit codes.
 */
import { Command, Option } from 'commander';
import { exitCodeOf, UsageError } from '../errors.js';
import { stdoutClosed } from './stdout.js';
import { VERSION } from '../version.js';
import { oneLine } from '../util/one-line.js';

const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The first line of commander's last parse error (for the --json error event). */
let parseError: string | undefined;

// A closed stdout (`autoprune --json | head -1`) ends the run quietly: a running prune stops at the next
// batch (resumable), a finished one keeps its exit code; no stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  stdoutClosed.abort();
});
// A closed stderr (`autoprune build-meta … 2>&1 | head -2`) carries only progress and messages: the work goes on
// and its exit code stands; what would have been written there is dropped (it used to end a finished build-meta
// with an uncaught EPIPE, exit 1).
process.stderr.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stderr.write = (() => true) as typeof process.stderr.write;
});

function main(argv: string[]): Promise<number> {
  const program = new Command('autoprune')
    .description(
      'Automated, learned pruning of TensorFlow.js models. Give a target sparsity; a learned policy decides which ' +
      'connections go, and an agent prunes step by step with fine-tuning and an accuracy guard.')
    .addHelpText('after', [
      '',
      'Examples:',
      '  autoprune --target 0.8                                  built-in MNIST-10k + LeNet-300-100',
      '  autoprune -m m/model.json -d data.csv -t 0.9 --max-drop 0.5 -o pruned/',
      '  autoprune -t 0.9 --json                                 one JSON event per line',
      '',
      'The pruning options (--model, --data, --label, --target, --max-drop, --budget-steps, --granularity, --objective,',
      '--policy, --out, --compact, --resume, …) are the prune command\'s: autoprune prune --help lists them all. An option',
      'given twice counts as its last (a script may append `--target 0.6` to override an earlier one).',
      '',
      'Exit codes: 0 target reached within the guard; 3 stopped before the target (the guard, the --budget ran out, or every layer at its floor);',
      '2 bad input or usage; 130 interrupted (resumable with --resume once a step was checkpointed); 1 internal error.',
      '',
      'Environment: AUTOPRUNE_CACHE_DIR (cache folder), AUTOPRUNE_BACKEND, AUTOPRUNE_MAX_DATA_MB, AUTOPRUNE_TF_LOG=1, AUTOPRUNE_DEBUG=1, …:',
      'README.md, "Environment variables", has the whole list.',
    ].join('\n'))
    .version(VERSION, '-V, --version')
    .configureOutput({
      // One `autoprune: error:` line like every other bad input (commander's own start with 'error: ').
      outputError: (str, write) => {
        if (str.startsWith('error: ')) {
          // Commander's "(Did you mean --max-drop?)" comes on a line of its own: kept, on the one line.
          // (The hint taken off the end, not the message split at its first line break: an option or value may hold one.)
          const whole = str.trim();
          const hint = /\n\s*(\(Did you mean[^\n]*)$/.exec(whole);
          const body = hint ? whole.slice(0, hint.index) : whole;
          parseError = oneLine(`${body.replace(/^error: /, '')}${hint ? ` ${hint[1].replace('(Did you mean', '(did you mean')}` : ''}`);
          // Where to read the usage, on the same line (commander's showHelpAfterError puts it on a second one).
          // The subcommand's own help where one was named (a build-meta flag is not in the top-level help).
          const sub = argv.find((a) => !a.startsWith('-'));
          const help = sub && sub !== 'prune' && program.commands.some((c) => c.name() === sub) ? `autoprune ${sub} --help` : 'autoprune --help';
          write(`autoprune: error: ${parseError} (run ${help} for usage)\n`);
        } else {
          write(str);
        }
      },
    })
    .exitOverride();

  program
    .command('prune', { isDefault: true })
    .description('prune a model to a target sparsity (the default command)')
    .option('-t, --target <fraction>', 'target global sparsity in (0, 1): fraction of the prunable kernel weights removed (Dense, Conv, recurrent, embedding; the start line says what share of all parameters they are), e.g. 0.8')
    .option('--targets <list>', 'the accuracy–sparsity frontier in one run: comma-separated targets, e.g. 0.5,0.8,0.9,0.95; the run goes to the largest exactly as a run to it alone; each lower target that a step crosses is reached on a branch from the state before that step, fine-tuned like one step (on top of the budget), and written to <out>/frontier/<target>/ (model/, masks.json); <out>/frontier.json and the report list them all (instead of --target)')
    .option('-m, --model <path>', 'tfjs LayersModel (model.json or its folder); never modified. Default: LeNet-300-100 on mnist-10k, otherwise an MLP sized to the data, trained and cached')
    .option('-d, --data <spec>', "'mnist-10k' (10,000 real digits, built in), 'synthetic', or a CSV file (numeric features + a label column)", 'mnist-10k')
    .option('--label <columns>', "CSV label column: header name or 0-based index of the file; a classifier's one-hot labels (one 1 per row): its k class columns, comma-separated, in the order of its outputs; a model with k outputs read as values (multilabel, regression): k columns, likewise; a name with a comma in double quotes (default: the last column(s) not in --ignore-columns)")
    .option('--ignore-columns <columns>', 'CSV: columns that are neither inputs nor the label (IDs, names, dates, free text), comma-separated header names or 0-based indices (a name with a comma in double quotes)')
    .option('--task <kind>', "what --model was trained for, when its model.json carries no loss: classification, multilabel (k sigmoid outputs; k 0/1 label columns: the CSV's last k or --label a,b,c), regression (k target columns, likewise) or autoencoder (the inputs are the targets); the guard then compares exact-match accuracy or R² instead of accuracy (default: from the saved loss, else the output layer)")
    .option('--label-order <names>', "CSV: the label names in the order of the model's outputs, comma-separated, a name with a comma in double quotes as in the file (default: the labels sorted, numerically where all are numbers — 0,1,2 or 1,2,3 both map to outputs 0,1,2, and a file with only 2,3 of a 1..3 model's labels to outputs 1,2 — else by name)")
    .option('--class-weight <weights>', "classifiers trained with class weights or oversampled rows: 'balanced' (each class inversely to its rows, scikit-learn's rule) or class=weight pairs, comma-separated (e.g. damaged=5; a class name or 0-based output index, classes not named weigh 1). Fine-tuning draws its batches by them, and the guard and every accuracy figure weigh each split's rows by them ('balanced': balanced accuracy, the mean recall over the classes). Without it, fine-tuning on the rows as given pulls such a model toward its common classes (docs/agent.md)")
    .option('--split <train,val,test>', 'CSV: fractions of the data file for training, validation and test (seeded, stratified; rescaled to add up to 1, so 8,1,1 works too); parts with their own file are not split off (default: 0.8,0.1,0.1)')
    .option('--val-data <csv>', 'CSV: a separate validation file with the same columns (the accuracy guard uses it)')
    .option('--test-data <csv>', 'CSV: a separate test file with the same columns (final test accuracy)')
    .option('--standardize', "CSV: z-score each feature with the training split's statistics (the default without --model: the built-in model is trained that way)")
    .option('--no-standardize', 'CSV: feed the values as they are in the file (the default with --model: your model gets what it was presumably trained on)')
    .option('--input-scale <factor>', 'CSV: multiply every input value by this factor before anything reads it, e.g. 1/255 for pixels stored as 0–255 given to a model trained on [0, 1] (not with --standardize; report.json config.inputScale; the pruned model expects inputs so scaled). Given, 1 included, it also says the values are as in training: a refusal that the model looks trained at another scale becomes a warning')
    .option('--max-drop <points>', 'the drop of the task\'s metric (accuracy; R² × 100 for regression and autoencoders) in percentage points the pruned model may have on unseen data; what the guard accepts on the validation rows is this plus a noise allowance of up to two validation rows (2 points on 100 rows, 0.2 on 1,000: the start line gives the figure); the guard compares the pruned model, on the same validation rows, with the lower-scoring of the dense model and a dense copy fine-tuned like one step, and rolls a step back when the rows show, at 95 % one-sided confidence (1.64 standard errors), a larger drop, or when the estimated drop exceeds it by more than two validation rows (max-drop again for R²)', '1')
    .option('-p, --policy <name|file>', "pruning policy: 'default' (learned, policies/default.json), another shipped one (default-v2, no-cnn, no-mlp, linear, linear-no-cnn, linear-no-mlp: docs/policy.md), a policy file, or a baseline: random, uniform-magnitude, global-magnitude, taylor, wanda, lamp; 'X+Y' takes X's order inside each layer and Y's allocation across layers, 'X@a+Y' mixes X's ranks into Y's with weight a in [0, 1] (e.g. default@0.25+lamp: a bounded learned correction of LAMP, docs/oracle.md). A learned policy on a model with layers unlike those it was trained on is used as X@0.25+lamp, said at the start (docs/agent.md)", 'default')
    .option('-o, --out <dir>', 'output folder (model/, masks.json, report.json, report.html)', 'autoprune-out')
    .option('--overwrite', 'replace an existing output folder of a previous run (one holding autoprune\'s report.json or masks.json and only what autoprune writes: a folder with any other file, also inside model/, compact/ or frontier/, is refused, naming it)')
    .option('--force', 'take the target even when the guard cannot be held (the drop is reported)')
    .option('--resume', 'continue an interrupted run from its last accepted checkpoint (same --out)')
    .addOption(new Option('--granularity <kind>', 'what a step removes: single connections, whole units/filters, or hierarchical (units the policy finds useless, then connections); default connection, unit with --objective flops. With whole units a classifier\'s fine-tunes distil from the model as given (docs/agent.md)').choices(['connection', 'unit', 'hierarchical']))
    .addOption(new Option('--objective <measure>', "what --target counts: 'params' (fraction of kernel weights removed), 'flops' (fraction of multiply-accumulates removed: prunes whole units/filters for a faster compacted model; implies --granularity unit) or 'latency' (fraction of the model's time per predict call removed, predicted from per-layer costs timed on this machine at the start; whole units too)").choices(['params', 'flops', 'latency']).default('params'))
    .option('--serving-batch <n>', 'samples per predict call the pruned model will serve: --objective latency times the model at it, --compact rewrites and times the compact model for it (default 32, tfjs predict\'s own)')
    .option('--exclude <patterns...>', "kernels never to prune: names as `autoprune inspect` lists them, comma-separated or repeated, with * and ? wildcards (e.g. --exclude dense_1 'backbone/*'); they stay dense, the report lists them, and --target counts the other kernels")
    .option('--compact', 'also write a physically smaller model (compact/) and sparse files (model.sparse, model.int8.sparse); with --targets, for every target\'s folder')
    .option('--logdir <dir>', 'also write TensorBoard summaries there: sparsity and the metric per step, rollbacks, fine-tune loss per epoch (tensorboard --logdir <dir>)')
    .option('--budget <epochs>', 'fine-tuning budget of the whole run in passes over the training data (converted to optimizer steps; default: 60,000 samples seen within 15-60 epochs, at least 900 steps)')
    .option('--budget-steps <n>', 'fine-tuning budget of the whole run in optimizer steps (batches); wins over --budget')
    .option('--batch-size <n>', 'fine-tuning batch size (default: from the training rows, 16-128, 32-63 steps per epoch)')
    .option('--seed <n>', 'seed of data shuffling and fine-tuning (the CSV\'s split into training, validation and test rows stays the one of --split-seed: a sweep over --seed keeps the rows a model was not trained on)', '0')
    .option('--split-seed <n>', 'seed of the CSV\'s 80/10/10 split (default 0, the split build-meta and the docs train models on); another split judges a model trained on split 0\'s training rows on rows it trained on')
    .option('--json', 'one JSON object per line on stdout (phase, start, step, rollback, checkpoint, epoch, warning, budget, polish, frontier, compact, done, error; docs/events.md) for orchestrators; the stream is complete whatever -q or -v say')
    .option('-q, --quiet', 'print only warnings, errors and the final status (report.json has the rest; --json streams every event whatever -q says)')
    .option('-v, --verbose', "also print every fine-tune round (loss, validation metric) and TensorFlow's own start-up log (without it, a round is printed only after 10 s without output and no progress bar — a long polish in a log — and the polish's first round at once)")
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('auto'))
    .allowExcessArguments(true)
    .action(async (opts, cmd: Command) => {
      if (cmd.args.length > 0) {
        const { UsageError } = await import('../errors.js');
        const names = program.commands.map((c) => c.name());
        // A command after options (`autoprune --json compact x`): the prune command's options came first and took it as an argument.
        if (names.includes(cmd.args[0])) {
          throw new UsageError(`'${cmd.args[0]}' is a command: put it first, its options after it (autoprune ${cmd.args[0]} … ${process.argv.slice(2).filter((a) => a.startsWith('-')).join(' ')}; autoprune ${cmd.args[0]} --help)`);
        }
        throw new UsageError(`unknown command or stray argument '${cmd.args[0]}'; commands: ${names.join(', ')} (autoprune --help)`);
      }
      const { pruneCommand } = await import('./prune.js');
      process.exitCode = await pruneCommand(opts, program.args);
    });

  program
    .command('doctor')
    .description('show which TensorFlow backend is active and how fast it trains (one epoch of LeNet-300-100 on MNIST-10k); exit 1 when the model cache is unusable or training would run without native TensorFlow though none was asked for')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('auto'))
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const { doctorCommand } = await import('./doctor.js');
      process.exitCode = await doctorCommand(opts);
    });

  program
    .command('setup-native')
    .description("build (or reuse) the native TensorFlow backend where npm's @tensorflow/tfjs-node cannot download libtensorflow: from a local TensorFlow CPU wheel, once per machine in ~/.cache/autoprune/native, linked into this install (what `npm install` runs; needed after `npm install --ignore-scripts`)")
    .option('--force', 'rebuild even where a working build exists')
    .option('--verbose', 'show every build step')
    .action(async (opts: { force?: boolean; verbose?: boolean }) => {
      const { spawnSync } = await import('node:child_process');
      const { join } = await import('node:path');
      const { PACKAGE_ROOT } = await import('../backend/tf.js');
      const script = join(PACKAGE_ROOT, 'scripts', 'setup-native.mjs');
      const r = spawnSync(process.execPath, [script, ...(opts.force ? ['--force'] : []), ...(opts.verbose ? ['--verbose'] : [])], { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    });

  program
    .command('inspect')
    .description('show a model\'s prunable layers and their sparsity')
    .argument('<model>', 'model.json or its folder')
    .option('--json', 'print as JSON')
    .action(async (model, opts) => {
      const { inspectCommand } = await import('./inspect.js');
      process.exitCode = await inspectCommand(model, opts);
    });

  program
    .command('compact')
    .description('rebuild a pruned model physically smaller (dead units/filters removed) and write sparse (+int8) files')
    .argument('<pruned>', 'an autoprune output folder (model/ + masks.json), a model folder, or a model.json')
    .option('-o, --out <dir>', 'where to write compact/, model.sparse (default: the autoprune output folder given; a model folder of your own needs --out: inputs are only read)')
    .option('--int8', 'also write model.int8.sparse with int8-quantised surviving weights')
    .option('--data <spec>', "real rows to compare the outputs on (the int8 error, classes changed): 'mnist-10k' or the run's CSV, read with the run's column settings from the folder's report.json (default: 32 random inputs, on which a classifier's int8 error shows little)")
    .option('--no-rewrite', 'keep the compact model layer for layer (by default batch norms and activation layers are folded into the conv or Dense layer before them: the same outputs, computed faster by TensorFlow)')
    .option('--serving-batch <n>', 'samples per predict call the compact model will serve; from 128 on, feature maps pruned to one channel are also rewritten into a form TensorFlow runs faster at such batches (default 32, tfjs predict\'s own)')
    .option('--json', 'print the result as JSON')
    .action(async (dir, opts) => {
      const { compactCommand } = await import('./compact.js');
      if (opts.servingBatch != null) {
        const n = Number(opts.servingBatch);
        if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--serving-batch must be a whole number ≥ 1, got '${opts.servingBatch}'`);
        opts.servingBatch = n;
      }
      process.exitCode = await compactCommand(dir, opts);
    });

  program
    .command('build-meta')
    .description('build a meta-dataset for a model family: train a zoo, run the oracle, sample per-connection features and labels')
    .requiredOption('--family <name>', "(required) model family: mlp or cnn (built-in zoos trained here on MNIST-10k), or your family's name with --models")
    .option('--models <files...>', 'your trained models of the family (model.json files or their folders): the oracle runs on them, nothing is retrained')
    .option('--data <spec>', "with --models: their data, 'mnist-10k' or a CSV file (default: mnist-10k)")
    .option('--label <column>', 'with --models and CSV data: label column, header name or 0-based index (default: the last column not in --ignore-columns)')
    .option('--ignore-columns <columns>', 'with --models and CSV data: columns that are neither inputs nor the label (IDs, names, dates, free text), comma-separated header names or 0-based indices')
    .option('--label-order <names>', "with --models and CSV data: the labels in the models' output order, comma-separated (as autoprune --label-order); a model whose predictions fit another order is refused")
    .option('--val-data <file>', 'with --models and CSV data: validation rows of their own, which the oracle judges on (instead of a split of --data: use it when the models were trained on rows of that split)')
    .option('--test-data <file>', 'with --models and CSV data: test rows of their own')
    .option('--split-seed <n>', "with --models and CSV data: seed of the 80/10/10 split of --data (default 0, autoprune's default split: train your models on its training rows)")
    .option('--standardize', 'with --models and CSV data: z-score the input columns over the training rows, as your models were trained (loadCsv\'s default; as autoprune --standardize)')
    .option('--out <file>', 'output header file (the rows go beside it as .bin.gz; default datasets/meta-FAMILY.json)')
    .option('--workers <n>', 'worker processes (with --queue: started on this machine, 0 = only workers started elsewhere)', '2')
    .option('--queue <url>', 'run the jobs on a BullMQ queue in Redis (redis://HOST:PORT): `autoprune worker --queue URL` on other machines helps; retries, and a worker lost mid-job loses nothing (another retakes the job); a restarted build reuses finished jobs')
    .option('--quick', 'a tiny zoo and oracle (for smoke tests)')
    .option('--fresh', "recompute every zoo model's rows; by default rows cached in autoprune's cache folder for the same model files, data and settings are reused, so an interrupted or extended build resumes")
    .option('--json', 'progress as JSON lines on stderr (a failure is one error event on stdout, as for every command, with the exit code)')
    .action(async (opts) => {
      const { buildMetaCommand } = await import('./build-meta.js');
      process.exitCode = await buildMetaCommand(opts, argv);
    });

  program
    .command('worker')
    .description('take build-meta jobs from a BullMQ queue in Redis until Ctrl-C (run on every machine that should help a `build-meta --queue` build)')
    .requiredOption('--queue <url>', '(required) the Redis URL the build uses, e.g. redis://10.0.0.5:6379')
    .option('-q, --quiet', 'print only failures')
    .option('--json', 'events as JSON lines on stderr')
    .action(async (opts) => {
      const { workerCommand } = await import('./build-meta.js');
      process.exitCode = await workerCommand(opts);
    });

  program
    .command('train-policy')
    .description('train a pruning policy (meta-model) on one or more meta-datasets')
    .requiredOption('--meta <files...>', '(required) meta-dataset header files (datasets/meta-*.json)')
    .option('--kind <kind>', 'cart (decision tree), net (small tfjs MLP) or linear (logistic regression: one weight per feature, printed)', 'cart')
    .requiredOption('--out <file>', '(required) policy file to write, e.g. policies/mine.json')
    .option('--name <name>', 'policy name (default: the file name)')
    .option('--no-validate', 'skip leave-one-model-out / leave-one-family-out validation (faster)')
    .option('--balance-families', 'give every family of the meta-datasets the same total training weight (else a family counts by its rows)')
    .option('--json', 'progress as JSON lines on stderr (a failure is one error event on stdout, as for every command, with the exit code)')
    .action(async (opts) => {
      const { trainPolicyCommand } = await import('./train-policy.js');
      process.exitCode = await trainPolicyCommand(opts, argv);
    });

  program
    .command('bench')
    .description('run the benchmark protocol (docs/benchmarks.md says what it measures) and write docs/benchmarks.md + raw JSON')
    .addOption(new Option('--suite <name>', "'mnist': the MNIST-10k protocol (LeNets, every method, structured, speed); 'small': the small real tables of datasets/small with the CLI defaults vs magnitude + fine-tune at equal optimizer steps (its own section of the page); 'coverage': every everyday model type of datasets/coverage (CNNs, LSTM/GRU, Conv1D, nested, regression, multi-label, autoencoder) at the CLI defaults, and the compute claim against the compact model (writes docs/coverage.md beside --out; --quick skips the compute check); 'scale': memory and time of one agent run on MLPs of growing width, each in its own process (its own section of the page); 'ecosystem': PruningCallback in a plain model.fit vs the agent at equal optimizer steps, and one --targets frontier run vs four separate runs (LeNet-300-100, --seeds; its own section); 'speed': fine-tuning epochs of both LeNets (dense and masked) side by side with the same training in PyTorch when python3 imports torch (scripts/speed-torch.py), and a profile of one step (its own section); 'retrain': a policy retrained with build-meta + train-policy on a family of MLPs of a small-data case (--models, default seattle-weather,cars-origin,zipcodes-state), against the default policy and global magnitude on the case's own model, the agent at --targets (0.9,0.95) and --seeds (writes its section of docs/policy.md beside --out); 'extreme': the agent at 0.98 and 0.99 (targets above 0.95 from --targets) on both LeNets vs gradual and global magnitude given its epochs, --seeds (its own section); 'imbalanced': the CLI defaults with and without --class-weight balanced on datasets/imbalanced/birdstrikes-all (7,145 bird strikes, 10 % damaged, a model trained balanced), --targets (default 0.8,0.9,0.95) and --seeds (its own section)").choices(['mnist', 'small', 'coverage', 'scale', 'ecosystem', 'speed', 'retrain', 'extreme', 'imbalanced']).default('mnist'))
    .option('--widths <list>', "--suite scale: hidden widths W of the MLPs 784 → W → W → 10 (default 500,1000,2000,3000,4000,6700: 0.9 M to 50 M prunable weights)")
    .option('--quick', 'smoke run: one seed, two targets, fewer epochs')
    .option('--out <file>', 'markdown file to write', 'docs/benchmarks.md')
    .option('--models <names>', 'comma-separated: lenet-300-100,lenet-5 (the MNIST protocol); with --suite coverage, the coverage cases to rerun (e.g. mobilenet,resnet; datasets/coverage/suite.json)', 'lenet-300-100,lenet-5')
    .option('--seeds <list>', 'comma-separated seeds', '0,1,2')
    .option('--targets <list>', 'comma-separated target sparsities', '0.5,0.8,0.9,0.95,0.98')
    .option('--cnn-seeds <list>', 'seeds for LeNet-5 when they differ from --seeds (it costs ~4x LeNet-300-100)')
    .option('--fresh', 'ignore finished records cached from earlier runs (by default a rerun resumes)')
    .option('--reuse <file>', "take records from an earlier run's raw results (benchmarks.json) where its dense models, budgets and (for the policy methods) policy files and pruning code are the same as this run's, and its structured rows where its policy files, code and budgets are; the page says how many")
    .action(async (opts) => {
      const { benchCommand } = await import('./bench.js');
      process.exitCode = await benchCommand(opts, argv);
    });

  return program.parseAsync(argv, { from: 'user' }).then(() => Number(process.exitCode ?? 0));
}

// A command whose promise never settles while nothing is left for the event loop to wait on (a handle closed under it)
// would end with exit 0 and its work undone: said, and exit 1 — an internal fault, not the user's.
let settled = false;
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('autoprune: error: internal: the command stopped before it finished (nothing was left to wait on); its output is not complete\n');
  process.exitCode = 1;
});
main(process.argv.slice(2)).finally(() => { settled = true; }).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e?.code === 'commander.helpDisplayed' || e?.code === 'commander.version') { process.exitCode = 0; return; }
    const wantsJson = process.argv.includes('--json') && !stdoutClosed.signal.aborted;
    if (typeof e?.code === 'string' && e.code.startsWith('commander.')) {
      if (wantsJson) process.stdout.write(`${JSON.stringify({ type: 'error', message: parseError ?? e.message, exitCode: 2 })}\n`);
      process.exitCode = 2;
      return;
    }
    const code = exitCodeOf(err);
    const message = code === 1 && process.env.AUTOPRUNE_DEBUG ? String((err as Error).stack) : oneLine(String(e?.message ?? err));
    if (wantsJson) process.stdout.write(`${JSON.stringify({ type: 'error', message, exitCode: code })}\n`);
    process.stderr.write(`autoprune: error: ${message}\n`);
    process.exitCode = code;
  },
);
