/**
 * The fallback native backend (built from a TensorFlow wheel where npm's tfjs-node cannot download
 * libtensorflow) lives once per machine: a second project reuses it without rebuilding, it stays under
 * 800 MB, and loading it prints nothing of TensorFlow's start-up log. Skipped where npm's own tfjs-node
 * works (no fallback in use).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const deps = join(root, '.native', 'tfjs-node', 'deps');
const fallbackInUse = existsSync(deps) && lstatSync(deps).isSymbolicLink();

describe.skipIf(!fallbackInUse)('the native fallback, shared per machine', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it('a second project reuses the shared build without rebuilding; the build is at most 800 MB', () => {
    const project = mkdtempSync(join(tmpdir(), 'autoprune-second-project-'));
    dirs.push(project);
    mkdirSync(join(project, 'scripts'));
    cpSync(join(root, 'scripts', 'setup-native.mjs'), join(project, 'scripts', 'setup-native.mjs'));
    writeFileSync(join(project, 'package.json'), '{"name":"second","type":"module"}\n');
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'));
    // No wheel and no package index reachable: a rebuild would fail, so success means reuse.
    const env = { ...process.env, AUTOPRUNE_TF_WHEEL_DIR: join(project, 'no-wheels'), PIP_INDEX_URL: 'http://127.0.0.1:9/simple', PIP_NO_INDEX: '1' };
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [join(project, 'scripts', 'setup-native.mjs')], { cwd: project, env, encoding: 'utf8', timeout: 240_000 });
    const seconds = (Date.now() - t0) / 1000;
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/native TensorFlow backend ready \(shared build .*, reused\)/);
    expect(r.stderr).not.toMatch(/building/);
    const linked = join(project, '.native', 'tfjs-node', 'deps');
    expect(lstatSync(linked).isSymbolicLink()).toBe(true);
    expect(realpathSync(linked)).toBe(realpathSync(deps));
    expect(seconds).toBeLessThan(120); // a load check in a child, not a ~1 min build + wheel download
    const du = spawnSync('du', ['-sLm', join(realpathSync(deps), '..')], { encoding: 'utf8' });
    expect(Number(du.stdout.split('\t')[0])).toBeLessThanOrEqual(800);
    // The second project's copy trains: one matmul through it.
    const code = `const tf=require(${JSON.stringify(join(project, '.native', 'tfjs-node'))});console.log(tf.getBackend(), tf.tidy(()=>tf.ones([2,2]).matMul(tf.ones([2,2])).dataSync()[0]))`;
    const m = spawnSync(process.execPath, ['-e', code], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(m.stdout.trim()).toBe('tensorflow 2');
  }, 300_000);

  it("loading it prints none of TensorFlow's start-up log unless asked (AUTOPRUNE_TF_LOG=1)", () => {
    const code = `import(${JSON.stringify(join(root, 'dist', 'backend', 'tf.js'))}).then((m) => { m.selectBackend(); console.log(m.tf.getBackend()); })`;
    const quiet = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, AUTOPRUNE_TF_LOG: '' } });
    expect(quiet.stdout.trim()).toBe('tensorflow');
    expect(quiet.stderr).toBe('');
    const loud = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, AUTOPRUNE_TF_LOG: '1' } });
    expect(loud.stdout.trim()).toBe('tensorflow');
    expect(loud.stderr).toMatch(/oneDNN|absl/);
  }, 240_000);
});
