/**
 * build-meta on a distributed queue: BullMQ on Redis. The coordinator (`build-meta --queue URL`)
 * puts one job per model on the queue and assembles the rows as they come back; workers
 * (`autoprune worker --queue URL`, on this machine or any other that reaches the Redis server) take
 * jobs one at a time and run the same buildModelRows as the in-process build.
 *
 * What the queue gives us over the local worker pool: workers on several machines, retries of a
 * failed job (3 attempts, exponential back-off), and no lost work when a worker dies mid-job — its
 * lock expires and another worker takes the job again (BullMQ's stalled-job check). Job ids are a
 * hash of the model and the settings, so a coordinator restarted after a crash finds the finished
 * jobs' results in Redis instead of recomputing them.
 */
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PACKAGE_ROOT } from '../backend/tf.js';
import { AutopruneError, UsageError } from '../errors.js';
import { checkQueueUrl } from './queue-url.js';
import { buildModelRows, isFileModel, metaModelKey, type BuildEvent, type MetaModel, type ModelJobOptions, type ModelRows } from './build.js';

export const QUEUE_NAME = 'autoprune-build-meta';
/** A job whose worker stops renewing its lock for this long is handed to another worker. */
const DEFAULT_LOCK_MS = 60_000;

interface JobData { model: MetaModel; options: ModelJobOptions }
/** Rows travel through Redis as gzip + base64 (a cnn model's rows are a few MB raw). */
interface JobResult { info: ModelRows['info']; rows: string }

/** Fails with one line when no Redis server answers at `url` (instead of ioredis retrying forever). */
export async function pingRedis(url: string): Promise<void> {
  checkQueueUrl(url);
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => { /* reported below */ });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new UsageError(`cannot reach Redis at --queue ${url}: ${(err as Error).message || 'connection failed'} (start one with 'redis-server --port PORT', or build without --queue)`);
  } finally {
    client.disconnect();
  }
}

const connectionOf = (url: string) => ({ url, maxRetriesPerRequest: null });

/**
 * Deterministic job id: the same model, data and settings are the same job (a restarted build finds it). The model's
 * and the data files' contents count (metaModelKey), not only their paths: a model or CSV replaced at the same path
 * is a new job, never the old rows.
 */
export function jobId(model: MetaModel, options: ModelJobOptions): string {
  const { fresh: _fresh, ...settings } = options;
  const contents = metaModelKey(model, options.limitPerDigit);
  return createHash('sha256').update(JSON.stringify({ model, contents, settings })).digest('hex').slice(0, 32);
}

function encode(r: ModelRows): JobResult {
  return { info: r.info, rows: gzipSync(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)).toString('base64') };
}

function decode(r: JobResult): ModelRows {
  const bytes = gunzipSync(Buffer.from(r.rows, 'base64'));
  const data = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(data.buffer).set(bytes);
  return { info: r.info, data };
}

export interface QueueBuildOptions {
  url: string;
  /** Worker processes started on this machine for the build (0: only workers started elsewhere). */
  localWorkers: number;
  onProgress?: (e: BuildEvent) => void;
}

/** Starts `autoprune worker --queue URL` processes here; each gets one TensorFlow thread. */
function startLocalWorkers(url: string, n: number): ChildProcess[] {
  const bin = join(PACKAGE_ROOT, 'bin', 'autoprune.js');
  return Array.from({ length: n }, () => spawn(process.execPath, [bin, 'worker', '--queue', url, '--quiet'], {
    env: { ...process.env, TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS ?? '1', TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  }));
}

/**
 * Runs every model's job on the queue and hands each result to `finished` (in completion order).
 * Finished jobs of an earlier identical build are reused (unless `job.fresh`); failed ones are retried.
 */
export async function runOnQueue(
  models: readonly MetaModel[],
  job: ModelJobOptions,
  options: QueueBuildOptions,
  finished: (i: number, r: ModelRows) => void,
): Promise<void> {
  await pingRedis(options.url);
  const connection = connectionOf(options.url);
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  const local: ChildProcess[] = [];
  try {
    await events.waitUntilReady();
    const ids = models.map((m) => jobId(m, job));
    const index = new Map(ids.map((id, i) => [id, i]));
    events.on('progress', ({ jobId: id, data }) => {
      if (index.has(id) && data && typeof data === 'object') options.onProgress?.(data as BuildEvent);
    });
    events.on('stalled', ({ jobId: id }) => {
      const i = index.get(id);
      if (i != null) options.onProgress?.({ type: 'model-requeued', model: models[i].id, reason: 'its worker stopped renewing the job lock (killed or hung); another worker takes it' });
    });
    const reused = new Set<number>();
    for (const [i, id] of ids.entries()) {
      const old = await queue.getJob(id);
      if (!old) continue;
      const state = await old.getState();
      if (state === 'failed' || (job.fresh && state === 'completed')) await old.remove();
      else if (state === 'completed') reused.add(i);
    }
    const jobs = await queue.addBulk(models.map((m, i) => ({
      name: m.id,
      data: { model: m, options: job },
      opts: {
        jobId: ids[i], attempts: 3, backoff: { type: 'exponential', delay: 5000 },
        removeOnComplete: { age: 14 * 24 * 3600 }, removeOnFail: { age: 14 * 24 * 3600 },
      },
    })));
    local.push(...startLocalWorkers(options.url, options.localWorkers));
    await Promise.all(jobs.map(async (j: Job<JobData, JobResult>, i) => {
      let result: JobResult;
      try {
        result = await j.waitUntilFinished(events);
      } catch (err) {
        throw new AutopruneError(`building rows of '${models[i].id}' failed on the queue: ${(err as Error).message}`);
      }
      const rows = decode(result);
      // A finished job of an earlier build (same model, data and settings): said, as the local cache's hits are.
      if (reused.has(i)) options.onProgress?.({ type: 'rows-cached', model: models[i].id, rows: rows.info.rows, from: 'queue' });
      finished(i, rows);
    }));
  } finally {
    for (const c of local) c.kill('SIGTERM');
    await events.close();
    await queue.close();
  }
}

export interface QueueWorkerOptions {
  /** Stops taking jobs; the job in hand is finished first (abort twice to drop it: another worker retakes it). */
  signal?: AbortSignal;
  onEvent?: (e: QueueWorkerEvent) => void;
}

export type QueueWorkerEvent =
  | { type: 'worker-ready'; worker: string; url: string }
  | { type: 'job-start'; worker: string; model: string; attempt: number }
  | { type: 'job-done'; worker: string; model: string; rows: number; seconds: number }
  | { type: 'job-failed'; worker: string; model: string; message: string; willRetry: boolean };

/**
 * A build-meta worker: takes jobs from the queue one at a time until `signal` aborts. Runs on any
 * machine that reaches the Redis server; a user model's path must exist there too.
 */
export async function runQueueWorker(url: string, options: QueueWorkerOptions = {}): Promise<void> {
  await pingRedis(url);
  const name = `${hostname()}:${process.pid}`;
  const lockDuration = Number(process.env.AUTOPRUNE_QUEUE_LOCK_MS ?? DEFAULT_LOCK_MS);
  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, async (j) => {
    const { model, options: jobOptions } = j.data;
    options.onEvent?.({ type: 'job-start', worker: name, model: model.id, attempt: j.attemptsMade + 1 });
    if (isFileModel(model) && !existsSync(model.path)) {
      throw new UnrecoverableError(`model file '${model.path}' does not exist on ${hostname()} (workers need the user's models at the same path)`);
    }
    await j.updateProgress({ type: 'model-start', model: model.id, worker: name } satisfies BuildEvent);
    const t0 = Date.now();
    let rows: ModelRows;
    try {
      rows = await buildModelRows(model, jobOptions, (e) => { void j.updateProgress(e); });
    } catch (err) {
      // Bad input fails the same way on every attempt: do not retry it.
      if (err instanceof AutopruneError && err.exitCode === 2) throw new UnrecoverableError(err.message);
      throw err;
    }
    options.onEvent?.({ type: 'job-done', worker: name, model: model.id, rows: rows.info.rows, seconds: (Date.now() - t0) / 1000 });
    return encode(rows);
  }, { connection: connectionOf(url), concurrency: 1, lockDuration, stalledInterval: lockDuration, maxStalledCount: 2, name });
  worker.on('failed', (j, err) => {
    if (!j) return;
    const willRetry = !(err instanceof UnrecoverableError) && j.attemptsMade < (j.opts.attempts ?? 1);
    options.onEvent?.({ type: 'job-failed', worker: name, model: j.data.model.id, message: err.message, willRetry });
  });
  worker.on('error', () => { /* connection hiccups: BullMQ reconnects */ });
  await worker.waitUntilReady();
  options.onEvent?.({ type: 'worker-ready', worker: name, url });
  const signal = options.signal;
  if (!signal) return new Promise<void>(() => { /* runs until the process ends */ });
  if (!signal.aborted) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  await worker.close();
}
