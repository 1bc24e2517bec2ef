/**
 * build-meta on a real distributed queue: a Redis server (Debian's redis-server) on 127.0.0.1,
 * BullMQ jobs, two `autoprune worker` processes, one of them killed with SIGKILL mid-job. The
 * meta-dataset must equal the in-process build's, row for row.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMeta } from '../../src/meta/format.js';
import { jobId } from '../../src/meta/queue.js';
import { tempDir } from '../helpers.js';
import { BIN, churnFamily, cli, expectCleanUsageError } from '../cli/cli-helpers.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) console.warn('queue tests skipped: no redis-server on PATH (Debian: apt-get install redis-server; .ci/run installs it)');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** A throwaway Redis: no persistence, loopback only; resolves once it accepts connections. */
async function startRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('Ready to accept connections')) resolve(); });
    proc.on('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, proc };
}

interface Spawned { child: ChildProcess; events: Record<string, unknown>[]; stderr: () => string; exited: Promise<number> }

/** Starts the CLI with JSON events on stderr, collected as they arrive. */
function start(args: string[], cwd: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('{')) events.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stdout!.resume();
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 128))));
  return { child, events, stderr: () => err, exited };
}

async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!hasRedis)('build-meta --queue (BullMQ on Redis)', () => {
  let redis: { url: string; proc: ChildProcess };
  const cwd = tempDir();
  const family = ['build-meta', '--family', 'churn-mlp', '--models', 'm1', 'm2', 'm3', '--data', 'churn.csv', '--label', 'churn'];

  beforeAll(async () => {
    redis = await startRedis();
    await churnFamily(cwd, [['m1', [24, 12], 1], ['m2', [16], 2], ['m3', [20], 3]]);
  }, 120_000);
  afterAll(() => { redis?.proc.kill('SIGKILL'); });

  it('two worker processes, one killed mid-job: the job is retaken and the meta-dataset equals the in-process build', async () => {
    const inproc = await cli([...family, '--workers', '1', '--out', 'meta/inproc.json'], { cwd, env: { AUTOPRUNE_CACHE_DIR: join(cwd, 'cache-a') } });
    expect(inproc.code, inproc.stderr).toBe(0);

    // Workers with their own model cache (as on other machines) and a short job lock, so that the
    // killed worker's job is handed on within seconds instead of the default minute.
    const env = { AUTOPRUNE_CACHE_DIR: join(cwd, 'cache-b'), AUTOPRUNE_QUEUE_LOCK_MS: '3000' };
    const workers = [0, 1].map(() => start(['worker', '--queue', redis.url, '--json'], cwd, env));
    try {
      await until(() => workers.every((w) => w.events.some((e) => e.type === 'worker-ready')), 'both workers ready');
      const build = start([...family, '--queue', redis.url, '--workers', '0', '--json', '--out', 'meta/queue.json'], cwd, env);
      // Kill the worker of the first model whose oracle is under way (mid-job), with no chance to clean up.
      const owner = new Map<string, string>();
      let killed: string | undefined;
      await until(() => {
        for (const e of build.events) if (e.type === 'model-start') owner.set(String(e.model), String(e.worker));
        const busy = build.events.find((e) => e.type === 'oracle-candidate' && owner.has(String(e.model)));
        if (busy) killed = String(busy.model);
        return killed != null;
      }, 'a job in progress');
      const pid = Number(owner.get(killed!)!.split(':').pop());
      const victim = workers.find((w) => w.child.pid === pid)!;
      expect(victim, `worker ${owner.get(killed!)} is one of ours`).toBeDefined();
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe(137);

      const code = await build.exited;
      expect(code, build.stderr()).toBe(0);
      // The killed job went back on the queue and was started again, by the surviving worker.
      expect(build.events.some((e) => e.type === 'model-requeued' && e.model === killed)).toBe(true);
      const starts = build.events.filter((e) => e.type === 'model-start' && e.model === killed);
      expect(starts.length).toBeGreaterThanOrEqual(2);
      expect(starts.at(-1)!.worker).not.toBe(owner.get(killed!));
      expect(build.events.filter((e) => e.type === 'model-done').length).toBe(3);

      const a = readMeta(join(cwd, 'meta', 'inproc.json'));
      const b = readMeta(join(cwd, 'meta', 'queue.json'));
      expect(b.header.models.map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
      expect(b.header.rows).toBe(a.header.rows);
      expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
      expect(b.header.models.map((m) => m.oracle)).toEqual(a.header.models.map((m) => m.oracle));

      // A rebuild finds the finished jobs in Redis: the same rows, no worker touched.
      const jobsBefore = workers[1 - workers.indexOf(victim)].events.filter((e) => e.type === 'job-start').length;
      const again = await cli([...family, '--queue', redis.url, '--workers', '0', '--out', 'meta/again.json'], { cwd, env });
      expect(again.code, again.stderr).toBe(0);
      expect(workers[1 - workers.indexOf(victim)].events.filter((e) => e.type === 'job-start').length).toBe(jobsBefore);
      // ... and says so, per model.
      expect(again.stderr.match(/rows from the queue's finished job of an earlier build/g)?.length).toBe(3);
      expect(readFileSync(join(cwd, 'meta', 'again.bin.gz')).length).toBeGreaterThan(0);
      expect(Buffer.from(readMeta(join(cwd, 'meta', 'again.json')).data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
    }
  }, 420_000);

  it.each([
    [['--queue', 'http://localhost:6379'], /--queue 'http:\/\/localhost:6379' is not a Redis URL/],
    [['--workers', '0'], /--workers 0 needs --queue/],
  ])('bad queue flags %j → one clear line, exit 2', async (args, pattern) => {
    expectCleanUsageError(await cli([...family, ...args, '--out', 'meta/x.json'], { cwd }), pattern);
  });

  it('a database in the URL that is not a number, or that the server lacks, is one clear line, exit 2', async () => {
    expectCleanUsageError(await cli(['worker', '--queue', `${redis.url}/abc`], { cwd }), /^autoprune: error: --queue 'redis:\/\/127\.0\.0\.1:\d+\/abc': the database 'abc' after the port is not a whole number/);
    expectCleanUsageError(await cli([...family, '--queue', `${redis.url}/99`, '--workers', '0', '--out', 'meta/x.json'], { cwd }), /the Redis server there has no database 99 \(ERR DB index is out of range; its 'databases' setting, 16 by default: 0–15\)/);
  });

  it('a worker whose copy of a model differs refuses its job, and rows of other contents are never used: the job is taken off the queue', async () => {
    const { Queue, Worker, QueueEvents } = await import('bullmq');
    const { runQueueWorker, QUEUE_NAME } = await import('../../src/meta/queue.js');
    const { metaModelKey } = await import('../../src/meta/build.js');
    // On its own database, so that the other tests' jobs and workers are not in the way.
    const url = `${redis.url}/3`;
    const connection = { url, maxRetriesPerRequest: null };
    const model = { id: 'm1', family: 'churn-mlp', path: join(cwd, 'm1'), data: { spec: join(cwd, 'churn.csv'), label: 'churn' } };
    // 1. A job whose coordinator saw other contents: the worker (in this process) refuses it, naming itself.
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    await events.waitUntilReady();
    const stop = new AbortController();
    const failed: string[] = [];
    const running = runQueueWorker(url, { signal: stop.signal, onEvent: (e) => { if (e.type === 'job-failed') failed.push(e.message); } });
    try {
      const j = await queue.add('m1', { model, options: {}, key: 'contents-elsewhere' }, { jobId: 'stale-1', attempts: 3 });
      await expect(j.waitUntilFinished(events)).rejects.toThrow(/the files of 'm1' \(.+m1 and its data\) differ from the ones build-meta was given on worker .+:\d+ \(every worker needs the models and data files at the same paths as the build-meta command\)/);
      // (The worker's own 'failed' event may come a moment after the queue's.)
      await until(() => failed.length > 0, 'the worker\'s job-failed event', 10_000);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatch(/differ from the ones build-meta was given/);
    } finally {
      stop.abort();
      await running;
    }
    // 2. A worker that returns rows of other contents (a stale worker of an older version): the build refuses them.
    const liar = new Worker(QUEUE_NAME, async () => ({ info: { id: 'm1', family: 'churn-mlp', rows: 1, modelHash: 'ffffffffffffffff' }, rows: '', key: 'not-this' }), { connection });
    try {
      const build = await cli([...family.slice(0, 4), 'm1', '--data', 'churn.csv', '--label', 'churn', '--queue', url, '--workers', '0', '--out', 'meta/stale.json'], { cwd });
      expect(build.code).not.toBe(0);
      expect(build.stderr).toMatch(/the rows of 'm1' on the queue were built from other contents of its files than this machine's \(model hash ffffffffffffffff there, [0-9a-f]{16} here\): the job is removed; give every worker the same model and data files at the same paths, and rerun/);
      expect(build.stderr).not.toMatch(/wrote /);
      // Taken off the queue: no later build reuses it.
      const { jobId } = await import('../../src/meta/queue.js');
      expect(await queue.getJob(jobId(model, {}, metaModelKey(model)))).toBeUndefined();
    } finally {
      await liar.close();
      await events.close();
      await queue.close();
    }
  }, 120_000);

  it('the workers a build starts (--workers N) end with it when only the coordinator gets SIGTERM', async () => {
    const env = { AUTOPRUNE_CACHE_DIR: join(cwd, 'cache-c') };
    const build = start([...family, '--queue', redis.url, '--workers', '1', '--fresh', '--json', '--out', 'meta/term.json'], cwd, env);
    let pid: number | undefined;
    try {
      await until(() => build.events.some((e) => e.type === 'model-start'), 'a job taken by the started worker');
      pid = Number(String(build.events.find((e) => e.type === 'model-start')!.worker).split(':').pop());
      const alive = () => { try { process.kill(pid!, 0); return true; } catch { return false; } };
      expect(alive()).toBe(true);
      build.child.kill('SIGTERM');
      expect(await build.exited).toBe(130);
      // Told to stop: it finishes the job in hand (its rows stay on the queue) and exits; it used to take every job
      // left and then wait for more for ever, re-parented to init.
      await until(() => !alive(), 'the started worker to end', 60_000);
      expect(existsSync(join(cwd, 'meta', 'term.json'))).toBe(false);
    } finally {
      build.child.kill('SIGKILL');
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }, 120_000);

  it('a stopped worker takes no job after the one in hand; the build says its last worker left, and an interrupted build takes its unstarted jobs off the queue', async () => {
    const env = { AUTOPRUNE_CACHE_DIR: join(cwd, 'cache-d'), AUTOPRUNE_QUEUE_WATCH_MS: '300' };
    // On its own database: the job counts below are this build's.
    const url = `${redis.url}/4`;
    const { Queue } = await import('bullmq');
    const { QUEUE_NAME } = await import('../../src/meta/queue.js');
    const queue = new Queue(QUEUE_NAME, { connection: { url, maxRetriesPerRequest: null } });
    const build = start([...family, '--queue', url, '--workers', '0', '--fresh', '--json', '--out', 'meta/stop.json'], cwd, env);
    const worker = start(['worker', '--queue', url, '--json'], cwd, env);
    try {
      await until(() => worker.events.some((e) => e.type === 'job-start'), 'a job taken by the worker');
      worker.child.kill('SIGTERM');
      await worker.exited;
      // The job in hand finished; the next one, which BullMQ hands over as it completes one, went back untouched (a new
      // user's stopped worker ran a whole extra job first): once the worker has the signal, no job starts.
      const types = worker.events.map((e) => e.type);
      const stopping = types.indexOf('worker-stopping');
      expect(stopping).toBeGreaterThanOrEqual(0);
      expect(types.slice(stopping + 1)).not.toContain('job-start');
      expect(types.filter((t) => t === 'job-start')).toHaveLength(types.filter((t) => t === 'job-done').length);
      const counts = await queue.getJobCounts('completed', 'active', 'failed', 'wait');
      expect(counts).toMatchObject({ active: 0, failed: 0 });
      expect(counts.completed + counts.wait).toBe(3);
      expect(counts.wait).toBeGreaterThan(0);
      // Its only worker gone, the build says so (it used to wait in silence).
      await until(() => build.events.some((e) => e.type === 'queue-waiting' && new RegExp(`${counts.wait} of 3 models' rows still to come from redis:.+, and no worker is connected to it any more: start one with 'autoprune worker --queue`).test(String(e.message))), 'the no-worker-any-more line', 30_000);
      // Interrupted, it takes the jobs no worker started off the queue: a later build's workers do not run them first.
      build.child.kill('SIGTERM');
      expect(await build.exited).toBe(130);
      expect(build.stderr()).toMatch(new RegExp(`interrupted: ${counts.completed} of 3 models' rows were built and are cached \\(the same command reuses them\\); ${counts.wait} job\\(s\\) no worker had started were taken off the queue; meta/stop\\.json was not written`));
      expect(await queue.getJobCounts('completed', 'active', 'failed', 'wait')).toEqual({ completed: counts.completed, active: 0, failed: 0, wait: 0 });
    } finally {
      build.child.kill('SIGKILL');
      worker.child.kill('SIGKILL');
      await queue.close();
    }
  }, 120_000);

  it('a build says when no worker is connected, and fails in one line when its Redis server is gone', async () => {
    const lone = await startRedis();
    // 8 s of waiting for the server: long enough for the client to stop holding the process while it waits (a build
    // that ended there used to exit 0, below), short for a test.
    const env = { AUTOPRUNE_QUEUE_WATCH_MS: '300', AUTOPRUNE_QUEUE_LOST_MS: '8000' };
    const build = start([...family, '--queue', lone.url, '--workers', '0', '--out', 'meta/lone.json'], cwd, env);
    try {
      await until(() => /no worker is connected to it yet: start one with 'autoprune worker --queue redis:/.test(build.stderr()), 'the no-worker line', 60_000);
      // A graceful shutdown (SIGTERM: Redis closes its clients' connections), not only a crash: the build once ended
      // there with exit 0, its error unsaid and nothing written (a new user's `redis-cli shutdown`).
      lone.proc.kill('SIGTERM');
      expect(await build.exited).toBe(1);
      const lines = build.stderr().trim().split('\n');
      expect(lines.some((l) => l.includes('lost the Redis server at redis://127.0.0.1:') && l.includes('waiting up to 8 s'))).toBe(true);
      expect(lines.at(-1)).toMatch(/^autoprune: error: lost the Redis server at --queue redis:\/\/127\.0\.0\.1:\d+ for 8 s while 3 of 3 models' rows were still to come: rerun the same build-meta when it is back/);
      expect(existsSync(join(cwd, 'meta', 'lone.json'))).toBe(false);
      // No raw client errors on the way.
      expect(build.stderr()).not.toMatch(/ECONNREFUSED|ReplyError|at .+\.js:\d+/);
    } finally {
      build.child.kill('SIGKILL');
      lone.proc.kill('SIGKILL');
    }
  }, 120_000);

  it('an unreachable Redis is one clear line, exit 2', async () => {
    const port = await freePort();
    expectCleanUsageError(await cli(['worker', '--queue', `redis://127.0.0.1:${port}`], { cwd }), /cannot reach Redis at --queue redis:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('queue job ids', () => {
  it('follow the model\'s and the data\'s contents, not only their paths: a file replaced at the same path is a new job', () => {
    const dir = tempDir('autoprune-jobid-');
    mkdirSync(join(dir, 'm'));
    writeFileSync(join(dir, 'm', 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [] }] }));
    writeFileSync(join(dir, 'm', 'w.bin'), Buffer.from([1, 2, 3, 4]));
    writeFileSync(join(dir, 'd.csv'), 'a,b,y\n1,2,0\n');
    const model = { id: 'm', family: 'f', path: join(dir, 'm'), data: { spec: join(dir, 'd.csv') } };
    const first = jobId(model, {});
    expect(jobId({ ...model }, {})).toBe(first);
    writeFileSync(join(dir, 'd.csv'), 'a,b,y\n1,2,1\n');
    const otherData = jobId(model, {});
    expect(otherData).not.toBe(first);
    writeFileSync(join(dir, 'm', 'w.bin'), Buffer.from([1, 2, 3, 5]));
    expect(jobId(model, {})).not.toBe(otherData);
    // Settings count too; --fresh does not (it only decides whether a finished job is reused).
    expect(jobId(model, { stages: [0, 0.5] })).not.toBe(jobId(model, {}));
    expect(jobId(model, { fresh: true })).toBe(jobId(model, {}));
  });
});
