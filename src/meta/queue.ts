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
import { Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PACKAGE_ROOT } from '../backend/tf.js';
import { AutopruneError, UsageError } from '../errors.js';
import { checkQueueUrl, queueDb } from './queue-url.js';
import { buildModelRows, fileModelHash, isFileModel, metaModelKey, type BuildEvent, type MetaModel, type ModelJobOptions, type ModelRows } from './build.js';

export const QUEUE_NAME = 'autoprune-build-meta';
/** A job whose worker stops renewing its lock for this long is handed to another worker. */
const DEFAULT_LOCK_MS = 60_000;

/** A job: the model, the build settings, and what its files' contents are on the coordinator's machine (metaModelKey). */
interface JobData { model: MetaModel; options: ModelJobOptions; key?: string }
/** Rows travel through Redis as gzip + base64 (a cnn model's rows are a few MB raw); `key`: the contents the worker read. */
interface JobResult { info: ModelRows['info']; rows: string; key?: string }

/** How long a build waits for an unreachable Redis server to come back before it fails (AUTOPRUNE_QUEUE_LOST_MS: tests). */
const redisLostMs = () => Number(process.env.AUTOPRUNE_QUEUE_LOST_MS ?? 30_000);
/** How often a build checks Redis, its jobs and its workers while it waits (AUTOPRUNE_QUEUE_WATCH_MS: tests). */
const watchMs = () => Number(process.env.AUTOPRUNE_QUEUE_WATCH_MS ?? 5_000);

/** Fails with one line when no Redis server answers at `url` (instead of ioredis retrying forever). */
export async function pingRedis(url: string, remedy = 'or build without --queue'): Promise<void> {
  checkQueueUrl(url);
  const db = queueDb(url);
  // (The database is selected below, where its error can be caught: not by ioredis on connect.)
  const u = new URL(url);
  u.pathname = '';
  const client = new Redis(u.toString(), { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => { /* reported below */ });
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      const msg = (err as Error).message || 'connection failed';
      // "Connection is closed." is what a host that does not resolve, or a port where no Redis answers, gives.
      const why = /connection is closed/i.test(msg) ? 'no Redis server answered there (nothing listening, a host that does not resolve, or another service on that port)' : msg;
      throw new UsageError(`cannot reach Redis at --queue ${url}: ${why} (start one with 'redis-server --port PORT', ${remedy})`);
    }
    if (db > 0) {
      try {
        await client.select(db);
      } catch (err) {
        throw new UsageError(`--queue ${url}: the Redis server there has no database ${db} (${(err as Error).message}; its 'databases' setting, 16 by default: 0–15)`);
      }
    }
  } finally {
    client.disconnect();
  }
}

/** Whether Redis answers at `url` within a few seconds (the build's watch; never throws). */
async function redisAnswers(url: string): Promise<string | undefined> {
  try {
    await pingRedis(url);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const connectionOf = (url: string) => ({ url, maxRetriesPerRequest: null });

/**
 * Deterministic job id: the same model, data and settings are the same job (a restarted build finds it). The model's
 * and the data files' contents count (metaModelKey), not only their paths: a model or CSV replaced at the same path
 * is a new job, never the old rows.
 */
export function jobId(model: MetaModel, options: ModelJobOptions, contents = metaModelKey(model, options.limitPerDigit)): string {
  const { fresh: _fresh, ...settings } = options;
  return createHash('sha256').update(JSON.stringify({ model, contents, settings })).digest('hex').slice(0, 32);
}

function encode(r: ModelRows, key?: string): JobResult {
  return { info: r.info, rows: gzipSync(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)).toString('base64'), ...(key ? { key } : {}) };
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
  // Started by this process, not by npm: without npm_command, their launcher watch (cli/early-signals.ts) stays off — the
  // build stops them itself, and a second SIGTERM from the watch would drop the job in hand.
  const { npm_command: _npm, ...env } = process.env;
  return Array.from({ length: n }, () => spawn(process.execPath, [bin, 'worker', '--queue', url, '--quiet'], {
    env: { ...env, TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS ?? '1', TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  }));
}

/** Takes the running build's jobs that no worker has started off the queue (set while runOnQueue runs). */
let withdrawQueued: (() => Promise<number>) | undefined;

/**
 * For a build interrupted by a signal (its handler exits at once): takes the jobs of the queue build under way that no
 * worker has started off the queue, within `ms`; resolves to how many, or undefined where none was under way or the time
 * ran out. Left there, a later build's workers ran them first (a new user's next build waited behind them).
 */
export async function withdrawUnstartedJobs(ms = 3000): Promise<number | undefined> {
  if (!withdrawQueued) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([withdrawQueued().catch(() => undefined), new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs every model's job on the queue and hands each result to `finished` (in completion order).
 * Finished jobs of an earlier identical build are reused (unless `job.fresh`); failed ones are retried. A build that
 * ends before its jobs do (an error, or a signal: withdrawUnstartedJobs) takes those that no worker started off the
 * queue; a job in hand is finished by its worker, and its rows stay there for a rerun.
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
  // Connection errors are the watch's to report (below), once and in words; unheard, ioredis prints each retry's error object.
  queue.on('error', () => { /* the watch reports a lost server */ });
  events.on('error', () => { /* the watch reports a lost server */ });
  const local: ChildProcess[] = [];
  const stopLocal = (): void => { for (const c of local) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM'); };
  let watch: ReturnType<typeof setInterval> | undefined;
  /** Whether some model's rows are still to come (the build ends early: its unstarted jobs are withdrawn). */
  let unfinished = () => false;
  try {
    await events.waitUntilReady();
    // What each model's files hold here: the job id, and what every worker's copy is checked against.
    const keys = models.map((m) => metaModelKey(m, job.limitPerDigit));
    const ids = models.map((m, i) => jobId(m, job, keys[i]));
    const index = new Map(ids.map((id, i) => [id, i]));
    let lastProgress = 0;
    events.on('progress', ({ jobId: id, data }) => {
      lastProgress = Date.now();
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
      data: { model: m, options: job, key: keys[i] },
      opts: {
        jobId: ids[i], attempts: 3, backoff: { type: 'exponential', delay: 5000 },
        removeOnComplete: { age: 14 * 24 * 3600 }, removeOnFail: { age: 14 * 24 * 3600 },
      },
    })));
    local.push(...startLocalWorkers(options.url, options.localWorkers));
    // However this process ends — a signal's process.exit(130), a crash — the workers it started end with it (told
    // to stop: each finishes the job in hand, whose rows stay on the queue for a rerun); they were left running when
    // only the coordinator got SIGTERM (a supervisor's or CI's timeout; a terminal's Ctrl-C reached the whole group).
    process.once('exit', stopLocal);
    const done = new Set<number>();
    unfinished = () => done.size < models.length;
    withdrawQueued = async () => {
      let n = 0;
      for (const [i, id] of ids.entries()) {
        if (done.has(i)) continue;
        // One job at a time, each on its own: a job a worker takes between the two calls cannot be removed (it is locked),
        // which must not stop the others' withdrawal.
        try {
          const j = await queue.getJob(id);
          const state = j ? await j.getState() : undefined;
          if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') continue;
          await j!.remove();
          n++;
        } catch { /* taken meanwhile: its worker finishes it */ }
      }
      return n;
    };
    // The watch: a build never waits in silence, nor forever, on a queue that cannot finish it.
    const lost = new Promise<never>((_, reject) => {
      const t0 = Date.now();
      let down: number | undefined;
      let toldNoWorker = false;
      /** Since when no worker has been connected (undefined: one is), and whether one ever was during this build. */
      let noWorkerSince: number | undefined = t0;
      let hadWorker = false;
      let busy = false;
      watch = setInterval(() => {
        if (busy) return;
        busy = true;
        void (async () => {
          const why = await redisAnswers(options.url);
          if (why) {
            if (down === undefined) {
              down = Date.now();
              options.onProgress?.({ type: 'queue-waiting', message: `lost the Redis server at ${options.url}; waiting up to ${redisLostMs() / 1000} s for it to come back` });
            } else if (Date.now() - down >= redisLostMs()) {
              reject(new AutopruneError(`lost the Redis server at --queue ${options.url} for ${redisLostMs() / 1000} s while ${models.length - done.size} of ${models.length} models' rows were still to come: ` +
                'rerun the same build-meta when it is back (the finished jobs still in Redis are reused)'));
            }
            return;
          }
          if (down !== undefined) options.onProgress?.({ type: 'queue-waiting', message: `the Redis server at ${options.url} is back` });
          down = undefined;
          // A job that vanished (a server restarted without its data) would never finish.
          for (const [i, id] of ids.entries()) {
            if (done.has(i) || (await queue.getJob(id))) continue;
            reject(new AutopruneError(`the job of '${models[i].id}' is gone from Redis at --queue ${options.url} (a server restarted without its data, a flush, or an interrupted build-meta of the same models, which takes its unstarted jobs off the queue): rerun the same build-meta (finished jobs still in Redis are reused)`));
            return;
          }
          // No worker, for three rounds of the watch: at the start, and again whenever the last one leaves (killed, or
          // its machine gone: a new user's build waited in silence after its only worker was killed).
          if ((await queue.getWorkersCount()) > 0) {
            hadWorker = true;
            noWorkerSince = undefined;
            toldNoWorker = false;
          } else {
            noWorkerSince ??= Date.now();
            // (A job whose progress came in lately has a worker, whatever the count says: a server that names no clients.)
            if (!toldNoWorker && Date.now() - noWorkerSince >= 3 * watchMs() && Date.now() - lastProgress >= 3 * watchMs()) {
              toldNoWorker = true;
              const start = `start one with 'autoprune worker --queue ${options.url}' (here or on any machine that reaches this server)`;
              options.onProgress?.({
                type: 'queue-waiting',
                message: hadWorker || lastProgress > 0
                  ? `${models.length - done.size} of ${models.length} models' rows still to come from ${options.url}, and no worker is connected to it any more: ${start}; a job whose worker was killed is taken again once a worker finds its lock lapsed`
                  : `${models.length - done.size} job(s) queued on ${options.url}, and no worker is connected to it yet: ${start}, or build with --workers N`,
              });
            }
          }
        })().catch(() => { /* the next round checks again */ }).finally(() => { busy = false; });
      }, watchMs());
    });
    const all = Promise.all(jobs.map(async (j: Job<JobData, JobResult>, i) => {
      let result: JobResult;
      try {
        result = await j.waitUntilFinished(events);
      } catch (err) {
        throw new AutopruneError(`building rows of '${models[i].id}' failed on the queue: ${(err as Error).message}`);
      }
      // Rows of other contents than this machine's (a worker's copy of the model or its data differs): never used, and
      // taken off the queue so that no later build reuses them.
      // (The worker's key covers the model's and the data's bytes; a result without one, from a worker of an earlier
      // version, is checked by the model hash its rows carry. The hash is read again only where it is needed.)
      const m = models[i];
      const theirs = result.info?.modelHash;
      const hashHere = () => (isFileModel(m) ? fileModelHash(m.path) : undefined);
      const other = result.key != null ? result.key !== keys[i] : theirs != null && isFileModel(m) && theirs !== hashHere();
      if (other) {
        const expected = hashHere();
        await j.remove().catch(() => { /* a later build's check refuses it again */ });
        throw new AutopruneError(`the rows of '${m.id}' on the queue were built from other contents of its files than this machine's` +
          `${expected && theirs != null && theirs !== expected ? ` (model hash ${theirs} there, ${expected} here)` : ' (its data files differ)'}: ` +
          'the job is removed; give every worker the same model and data files at the same paths, and rerun');
      }
      const rows = decode(result);
      // A finished job of an earlier build (same model, data and settings): said, as the local cache's hits are.
      if (reused.has(i)) options.onProgress?.({ type: 'rows-cached', model: m.id, rows: rows.info.rows, from: 'queue' });
      done.add(i);
      finished(i, rows);
    }));
    all.catch(() => { /* raced below */ });
    await Promise.race([all, lost]);
  } finally {
    if (watch) clearInterval(watch);
    stopLocal();
    process.off('exit', stopLocal);
    // Ended before its jobs did (an error): those no worker started are not left for a later build's workers to run first.
    // (Not where the server is gone: commands queued for it would hold the process while the client reconnects.)
    const withdraw = withdrawQueued;
    withdrawQueued = undefined;
    if (withdraw && unfinished() && (await redisAnswers(options.url)) === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([withdraw().catch(() => 0), new Promise((r) => { timer = setTimeout(r, 3000); })]);
      clearTimeout(timer);
    }
    // (Closing waits on the server; one that is gone must not hold the command. The wait's timer is a referenced one:
    // with the server gone nothing else may hold the event loop, and an unreferenced timer let the process end right
    // here, exit 0 with the build's error unsaid — a Redis shut down while no job ran.)
    let wait: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all([events.close(), queue.close()]), new Promise((r) => { wait = setTimeout(r, 3000); })]);
    clearTimeout(wait);
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
  | { type: 'job-failed'; worker: string; model: string; message: string; willRetry: boolean }
  | { type: 'worker-warning'; worker: string; message: string };

/**
 * A build-meta worker: takes jobs from the queue one at a time until `signal` aborts. Runs on any
 * machine that reaches the Redis server; a user model's path must exist there too.
 */
export async function runQueueWorker(url: string, options: QueueWorkerOptions = {}): Promise<void> {
  await pingRedis(url, 'or give the --queue URL of the build-meta command whose jobs this worker should take');
  const name = `${hostname()}:${process.pid}`;
  const lockDuration = Number(process.env.AUTOPRUNE_QUEUE_LOCK_MS ?? DEFAULT_LOCK_MS);
  const here = `on worker ${name} (every worker needs the models and data files at the same paths as the build-meta command)`;
  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, async (j, token) => {
    const { model, options: jobOptions } = j.data;
    if (options.signal?.aborted) {
      // BullMQ takes the next job in the same call that completes one: a stop asked during the last job (its signal
      // handled only once that job's synchronous work let it) must not run this one too (a new user's stopped worker
      // ran a whole extra job before it exited). Handed back untouched, for another worker or a rerun.
      await j.moveToWait(token);
      throw new WaitingError();
    }
    options.onEvent?.({ type: 'job-start', worker: name, model: model.id, attempt: j.attemptsMade + 1 });
    if (isFileModel(model) && !existsSync(model.path)) {
      throw new UnrecoverableError(`model file '${model.path}' does not exist ${here}`);
    }
    // The files as this machine has them must be the ones the coordinator was given: rows of another version under
    // this job's name would be used as that model's.
    let key: string;
    try {
      key = metaModelKey(model, jobOptions.limitPerDigit);
    } catch (err) {
      throw new UnrecoverableError(`${(err as Error).message.replace(/; give each model's model\.json.*$/, '')} ${here}`);
    }
    if (j.data.key != null && key !== j.data.key) {
      throw new UnrecoverableError(`the files of '${model.id}' (${isFileModel(model) ? `${model.path} and its data` : 'its recipe'}) differ from the ones build-meta was given ${here}`);
    }
    // Progress is best effort: a job gone from Redis (a server restarted empty) must not crash the worker.
    await j.updateProgress({ type: 'model-start', model: model.id, worker: name } satisfies BuildEvent).catch(() => undefined);
    const t0 = Date.now();
    let rows: ModelRows;
    try {
      rows = await buildModelRows(model, jobOptions, (e) => { j.updateProgress(e).catch(() => undefined); });
    } catch (err) {
      // Bad input fails the same way on every attempt: do not retry it.
      if (err instanceof AutopruneError && err.exitCode === 2) throw new UnrecoverableError(err.message);
      throw err;
    }
    options.onEvent?.({ type: 'job-done', worker: name, model: model.id, rows: rows.info.rows, seconds: (Date.now() - t0) / 1000 });
    return encode(rows, key);
  }, { connection: connectionOf(url), concurrency: 1, lockDuration, stalledInterval: lockDuration, maxStalledCount: 2, name });
  worker.on('failed', (j, err) => {
    if (!j) return;
    const willRetry = !(err instanceof UnrecoverableError) && j.attemptsMade < (j.opts.attempts ?? 1);
    options.onEvent?.({ type: 'job-failed', worker: name, model: j.data.model.id, message: err.message, willRetry });
  });
  // Connection trouble: BullMQ reconnects; said once per minute at most, so that a worker whose server is gone is not silent.
  let lastSaid = 0;
  worker.on('error', (err) => {
    if (Date.now() - lastSaid < 60_000) return;
    lastSaid = Date.now();
    options.onEvent?.({ type: 'worker-warning', worker: name, message: `Redis at ${url}: ${err.message || 'connection error'}; reconnecting (a job in hand is finished when it is back)` });
  });
  await worker.waitUntilReady();
  options.onEvent?.({ type: 'worker-ready', worker: name, url });
  const signal = options.signal;
  if (!signal) return new Promise<void>(() => { /* runs until the process ends */ });
  if (!signal.aborted) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  // Closing finishes the job in hand; with the server gone it would wait on the connection for ever: forced after a while.
  const closed = await Promise.race([worker.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
  if (!closed) await Promise.race([worker.close(true).catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
}
