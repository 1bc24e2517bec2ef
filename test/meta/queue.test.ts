/**
 * build-meta on a real distributed queue: a Redis server (Debian's redis-server) on 127.0.0.1,
 * BullMQ jobs, two `autoprune worker` processes, one of them killed with SIGKILL mid-job. The
 * meta-dataset must equal the in-process build's, row for row.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
