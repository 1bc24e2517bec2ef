#!/usr/bin/env node
// Makes sure autoprune trains on the native TensorFlow backend after `npm install`.
//
// 1. Normal path: `@tensorflow/tfjs-node` is an optional dependency. Where its install script can
//    download libtensorflow, it just works and this script has nothing to do.
// 2. Fallback: where that download is impossible (no route to the libtensorflow host), npm drops the
//    optional dependency. We then take tfjs-node's own sources from the npm registry, the TensorFlow
//    C API from a local TensorFlow CPU wheel (pip's configured index), and build the N-API binding
//    with node-gyp into `.native/tfjs-node` (git-ignored). src/backend loads it from there.
//
// Idempotent and quiet when already done; one clear message when neither path is possible.
// Never fails `npm install`: without a native backend autoprune still runs (slowly) and says so.
// Usage: node scripts/setup-native.mjs [--force] [--verbose]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TFJS_NODE_VERSION = '4.22.0';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, '.native', 'tfjs-node');
const args = new Set(process.argv.slice(2));
const verbose = args.has('--verbose') || process.env.AUTOPRUNE_SETUP_VERBOSE === '1';
const log = (msg) => { if (verbose) console.error(`[autoprune setup] ${msg}`); };

/** True when `node -e <code>` can load a native backend (checked in a child: a broken binding may abort). */
function loads(modulePath) {
  const code = `const tf=require(${JSON.stringify(modulePath)});` +
    `if(tf.getBackend()!=='tensorflow')process.exit(3);tf.tidy(()=>tf.ones([2,2]).matMul(tf.ones([2,2])).dataSync());`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, stdio: verbose ? 'inherit' : 'ignore', timeout: 120_000 });
  return r.status === 0;
}

function resolveFromRoot(name) {
  try { return createRequire(join(root, 'package.json')).resolve(name); } catch { return undefined; }
}

function run(cmd, argv, opts = {}) {
  log(`$ ${cmd} ${argv.join(' ')}`);
  return execFileSync(cmd, argv, { stdio: verbose ? 'inherit' : 'pipe', maxBuffer: 1 << 28, ...opts });
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    resolveFromRoot('node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

function fetchTfjsNodeSources(work) {
  const out = run('npm', ['pack', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`, '--pack-destination', work, '--silent'], { stdio: 'pipe' })
    .toString().trim().split('\n').pop();
  const tgz = join(work, out);
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  run('tar', ['xzf', tgz, '-C', src, '--strip-components=1']);
  return src;
}

function python() {
  for (const p of ['python3', 'python']) {
    if (spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0) return p;
  }
  return undefined;
}

/** Unpacks the TensorFlow C API (headers + shared libraries) from a TensorFlow CPU wheel into deps/. */
function fetchLibtensorflow(work, deps) {
  const py = python();
  if (!py) throw new Error('python3 is not available to fetch a TensorFlow wheel');
  const wheels = join(work, 'wheel');
  const wheelDir = process.env.AUTOPRUNE_TF_WHEEL_DIR;
  let wheel;
  if (wheelDir && existsSync(wheelDir)) {
    wheel = readdirSync(wheelDir).filter((f) => /^tensorflow(_cpu)?-.*\.whl$/.test(f)).map((f) => join(wheelDir, f))[0];
  }
  if (!wheel) {
    run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', wheels, 'tensorflow-cpu'], { stdio: verbose ? 'inherit' : 'pipe' });
    wheel = readdirSync(wheels).filter((f) => f.endsWith('.whl')).map((f) => join(wheels, f))[0];
  }
  if (!wheel) throw new Error('no TensorFlow wheel found');
  log(`using ${wheel}`);
  // Extract only what the C API needs (the wheel is ~270 MB; its Python parts are not used).
  const extract = `
import sys, zipfile, os, shutil
whl, dest = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
want = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2')
os.makedirs(os.path.join(dest, 'lib'), exist_ok=True)
for n in z.namelist():
    if n in want:
        with z.open(n) as s, open(os.path.join(dest, 'lib', os.path.basename(n)), 'wb') as d: shutil.copyfileobj(s, d)
    elif n.startswith('tensorflow/include/') and not n.endswith('/'):
        p = os.path.join(dest, 'include', n[len('tensorflow/include/'):])
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with z.open(n) as s, open(p, 'wb') as d: shutil.copyfileobj(s, d)
`;
  run(py, ['-c', extract, wheel, deps]);
  const lib = join(deps, 'lib');
  for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) {
    if (!existsSync(join(lib, f))) throw new Error(`the wheel has no tensorflow/${f}`);
  }
  symlinkSync('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so'));
  symlinkSync('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so.2'));
  symlinkSync('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
  rmSync(wheels, { recursive: true, force: true });
}

function buildFallback() {
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) throw new Error('node-gyp was not found (it ships with npm)');
  const work = mkdtempSync(join(tmpdir(), 'autoprune-native-'));
  try {
    const src = fetchTfjsNodeSources(work);
    fetchLibtensorflow(work, join(src, 'deps'));
    const t0 = Date.now();
    // Build against the running Node's own headers when they are installed (no header download).
    const prefix = resolve(dirname(process.execPath), '..');
    const nodedir = process.env.npm_config_nodedir ||
      (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
    const gypArgs = ['rebuild', '--module_name=tfjs_binding', `--module_path=${join(src, 'lib', 'napi-v8')}`];
    if (nodedir) gypArgs.push(`--nodedir=${nodedir}`);
    run(process.execPath, [nodeGyp, ...gypArgs], { cwd: src });
    log(`binding built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    rmSync(join(src, 'build'), { recursive: true, force: true });
    // Only the shared libraries run: the C API headers (~290 MB) and the binding's C++ sources were for the build.
    rmSync(join(src, 'deps', 'include'), { recursive: true, force: true });
    rmSync(join(src, 'binding'), { recursive: true, force: true });
    writeFileSync(join(src, 'AUTOPRUNE_BUILT_FROM_WHEEL'), `built ${new Date().toISOString()}\n`);
    // Publish atomically: a half-built tree never sits at .native/tfjs-node.
    mkdirSync(dirname(nativeDir), { recursive: true });
    rmSync(nativeDir, { recursive: true, force: true });
    try { renameSync(src, nativeDir); } catch { run('cp', ['-a', src, nativeDir]); }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function main() {
  if (process.env.AUTOPRUNE_SKIP_NATIVE === '1') return log('skipped (AUTOPRUNE_SKIP_NATIVE=1)');
  const force = args.has('--force');
  const normal = resolveFromRoot('@tensorflow/tfjs-node');
  if (!force && normal && loads('@tensorflow/tfjs-node')) return log('native backend ready (@tensorflow/tfjs-node)');
  if (!force && existsSync(nativeDir) && loads(nativeDir)) return log(`native backend ready (${nativeDir})`);
  console.error('autoprune: building the native TensorFlow backend from a local TensorFlow wheel (one time, ~1 min)…');
  try {
    buildFallback();
    if (!loads(nativeDir)) throw new Error('the built binding does not load');
    console.error('autoprune: native TensorFlow backend ready.');
  } catch (err) {
    const detail = String(err?.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    console.error(
      `autoprune: WARNING no native TensorFlow backend (${err.message}${detail ? `: ${detail}` : ''}). ` +
      'autoprune will run on a much slower JS backend. Fix: make `npm install @tensorflow/tfjs-node` work, ' +
      'or give pip access to a tensorflow-cpu wheel and run `node scripts/setup-native.mjs --force --verbose`.');
  }
}

main();
