import { markStopping, onStopSignals } from './early-signals.js';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { checkOutFile, checkOutReplaces, jsonFormatOf } from '../models/io.js';
import { META_FORMAT } from '../meta/format.js';
import { z } from 'zod';
import { selectBackend } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { main } from '../meta/cli-build-meta.js';
import { checkQueueUrl } from '../meta/queue-url.js';
import { nameList } from '../data/csv.js';
import { parseFlags } from './flags.js';

const Flags = z.object({
  family: z.string().min(1),
  out: z.string().min(1).optional(),
  workers: z.coerce.number().int('must be a whole number').min(0, 'must be at least 0').max(64),
  queue: z.string().min(1).optional(),
  quick: z.boolean().optional(),
  json: z.boolean().optional(),
  fresh: z.boolean().optional(),
  models: z.array(z.string().min(1, 'needs model paths, got an empty one')).min(1, 'needs at least one model path').optional(),
  data: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  ignoreColumns: z.string().min(1).transform((v) => nameList(v, '--ignore-columns')).optional(),
  labelOrder: z.string().min(1).transform((v) => nameList(v, '--label-order')).optional(),
  valData: z.string().min(1).optional(),
  testData: z.string().min(1).optional(),
  splitSeed: z.coerce.number().int('must be a whole number').min(0).optional(),
  standardize: z.boolean().optional(),
});

/** `autoprune build-meta --family F`: meta-dataset of a model family (zoo → oracle → features + labels). */
export async function buildMetaCommand(raw: Record<string, unknown>, argv: string[]): Promise<number> {
  const f = parseFlags(Flags, raw);
  if (f.workers === 0 && f.queue == null) throw new UsageError('--workers 0 needs --queue (workers started elsewhere take the jobs); without a queue give at least 1');
  if (f.queue != null) checkQueueUrl(f.queue);
  const flag = f.models?.find((m) => m.startsWith('--'));
  if (flag) throw new UsageError(`--models took '${flag}', an option, as a model path: give the model paths right after --models`);
  // Said before the work, not after it (the oracle runs minutes to hours on a zoo): the meta-dataset is a header
  // file NAME.json beside its rows.
  if (f.out != null && !f.out.endsWith('.json')) throw new UsageError(`--out is the meta-dataset's header file and must end in .json (its rows go beside it), got '${f.out}'`);
  {
    const out = f.out ?? `datasets/meta-${f.family}.json`;
    const inputs = [...(f.models ?? []), ...[f.data, f.valData, f.testData].filter((d): d is string => d != null)];
    // (Without --out, the default path is named as --out: "choose another --out" is then the fix.)
    const flag = '--out';
    checkOutFile(out, flag, inputs);
    // Its rows go beside it, NAME.bin.gz: checked too, before the oracle runs. Neither replaces a file autoprune did not
    // write, nor goes into an input model's folder (a new user's --out m/meta.json wrote two files beside their model).
    const rows = out.replace(/\.json$/, '.bin.gz');
    checkOutFile(rows, `${flag} (its rows file)`, inputs);
    const header = (p: string) => jsonFormatOf(p) === META_FORMAT;
    checkOutReplaces(out, flag, header, 'a meta-dataset header', f.models ?? []);
    // The rows file: replaced only where the header beside it is autoprune's and names it.
    checkOutReplaces(rows, `${flag} (its rows file)`, () => header(out) && (JSON.parse(readFileSync(out, 'utf8')) as { data?: unknown }).data === basename(rows), 'the rows file of a meta-dataset', f.models ?? []);
  }
  selectBackend();
  await main({
    family: f.family, out: f.out, workers: f.workers, queue: f.queue, json: f.json, fresh: f.fresh,
    models: f.models, data: f.data, label: f.label, ignoreColumns: f.ignoreColumns,
    labelOrder: f.labelOrder, valData: f.valData, testData: f.testData, splitSeed: f.splitSeed, standardize: f.standardize,
    ...(f.quick ? { limitPerDigit: 60, maxRowsPerLayerPerStage: 300 } : {}),
  }, ['autoprune', 'autoprune', ...argv]);
  // The 'written' event's line (or JSON object) names the file: no second "wrote" line.
  return 0;
}

const WorkerFlags = z.object({
  queue: z.string().min(1),
  json: z.boolean().optional(),
  quiet: z.boolean().optional(),
});

/**
 * `autoprune worker --queue URL`: takes build-meta jobs from the queue until Ctrl-C / SIGTERM (the
 * job in hand is finished first; a second signal drops it and another worker takes it again).
 */
export async function workerCommand(raw: Record<string, unknown>): Promise<number> {
  const f = parseFlags(WorkerFlags, raw);
  checkQueueUrl(f.queue);
  selectBackend();
  const { runQueueWorker } = await import('../meta/queue.js');
  const stop = new AbortController();
  // (A second Ctrl-C drops the job in hand: another worker takes it again.)
  onStopSignals((signal) => {
    markStopping();
    // (--quiet, as the workers build-meta starts and stops at its end: said by nobody, the build says what happened.)
    if (!f.json && !f.quiet) process.stderr.write('worker: stopping — the job in hand is finished first (a second Ctrl-C drops it: another worker takes it again)\n');
    // (--json: said as an event, so that a supervisor knows from when on the worker takes no job.)
    if (f.json) process.stderr.write(`${JSON.stringify({ type: 'worker-stopping', signal })}\n`);
    stop.abort();
  });
  await runQueueWorker(f.queue, {
    signal: stop.signal,
    onEvent: (e) => {
      if (f.json) { process.stderr.write(`${JSON.stringify(e)}\n`); return; }
      if (f.quiet && e.type !== 'job-failed' && e.type !== 'worker-warning') return;
      switch (e.type) {
        case 'worker-ready': process.stderr.write(`worker ${e.worker}: waiting for build-meta jobs on ${e.url} (Ctrl-C stops)\n`); break;
        case 'job-start': process.stderr.write(`worker ${e.worker}: ${e.model} (attempt ${e.attempt})\n`); break;
        case 'job-done': process.stderr.write(`worker ${e.worker}: ${e.model} done, ${e.rows} rows in ${e.seconds.toFixed(0)} s\n`); break;
        case 'job-failed': process.stderr.write(`worker ${e.worker}: ${e.model} failed${e.willRetry ? ' (will be retried)' : ''}: ${e.message}\n`); break;
        case 'worker-warning': process.stderr.write(`worker ${e.worker}: ${e.message}\n`); break;
      }
    },
  });
  // Stopped: a client still reconnecting to a server that is gone would keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
  return 0;
}
