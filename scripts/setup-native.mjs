#!/usr/bin/env node
// Makes sure autoprune trains on the native TensorFlow backend after `npm install`.
//
// 1. Normal path: `@tensorflow/tfjs-node` is an optional dependency. Where its install script can
//    download libtensorflow, it just works and this script has nothing to do.
// 2. Fallback: where that download is impossible (no route to the libtensorflow host), npm drops the
//    optional dependency. We then take tfjs-node's own sources from the npm registry, the TensorFlow
//    C API from a local TensorFlow CPU wheel (pip's configured index), and build the N-API binding
//    with node-gyp. The build lives once per user and machine in a shared cache
//    ($AUTOPRUNE_NATIVE_CACHE, else $XDG_CACHE_HOME/autoprune/native or ~/.cache/autoprune/native), in a
//    folder keyed by the tfjs-node version, the TensorFlow version, platform and architecture; only what
//    runs is kept (shared libraries stripped of debug symbols, no headers, no C++ sources). Each project
//    gets `.native/tfjs-node` (git-ignored): the binding's small JavaScript and .node files, with `deps`
//    a symbolic link to the shared libraries. A second project or clone reuses the shared build in a
//    second, without rebuilding. src/backend loads `.native/tfjs-node`.
//
// Idempotent and quiet when already done; one clear message when neither path is possible.
// Never fails `npm install`: without a native backend autoprune still runs (slowly) and says so.
// Usage: npx autoprune setup-native [--force] [--verbose]   (same as node scripts/setup-native.mjs …)
//   --force rebuilds the shared build even where one loads.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TFJS_NODE_VERSION = '4.22.0';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, '.native', 'tfjs-node');
const cacheRoot = process.env.AUTOPRUNE_NATIVE_CACHE ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'autoprune', 'native');
const keyPrefix = `tfjs-node-${TFJS_NODE_VERSION}-tf`;
const keySuffix = `-${process.platform}-${process.arch}`;
const MARKER = 'AUTOPRUNE_BUILT_FROM_WHEEL';
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
  const version = /^tensorflow(?:_cpu)?-([^-]+)-/.exec(basename(wheel))?.[1] ?? 'unknown';
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
  return version;
}

/**
 * A tiny N-API addon that points fd 2 at a file and back. TensorFlow ≥ 2.17 logs through absl, which ignores
 * TF_CPP_MIN_LOG_LEVEL before absl::InitializeLog(): every process would start with two INFO lines on stderr
 * (oneDNN, absl's preamble). src/backend loads the binding with stderr in a file, drops those INFO lines and
 * passes anything else on (AUTOPRUNE_TF_LOG=1 or `--verbose` shows them all).
 */
const STDERR_GUARD_C = `#include <node_api.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
static int saved = -1;
static napi_value Redirect(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; char path[4096]; size_t len = 0; int ok = 0; napi_value r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == 1 && napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) == napi_ok && saved < 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) { fflush(stderr); saved = dup(2); if (saved >= 0 && dup2(fd, 2) >= 0) ok = 1; close(fd); }
  }
  napi_get_boolean(env, ok, &r);
  return r;
}
static napi_value Restore(napi_env env, napi_callback_info info) {
  napi_value r;
  if (saved >= 0) { fflush(stderr); dup2(saved, 2); close(saved); saved = -1; }
  napi_get_undefined(env, &r);
  return r;
}
NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
    { "redirect", NULL, Redirect, NULL, NULL, NULL, napi_default, NULL },
    { "restore", NULL, Restore, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, d);
  return exports;
}
`;

/**
 * A tiny N-API addon that blocks the asynchronous, process-directed signals (SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * SIGWINCH, SIGUSR2) on the calling thread; src/backend calls it on the main thread before TensorFlow starts, so the
 * threads TensorFlow computes on (the main thread and its pools, which inherit the mask) never take them: a signal
 * delivered while TensorFlow computes corrupts the native heap (docs/reliability.md, "Signals"). The kernel then delivers
 * them to Node's other threads, whose handlers (libuv's) pass them to the event loop as before; a child process starts
 * with its mask reset (libuv clears it before exec).
 */
const SIGNAL_GUARD_C = `#include <node_api.h>
#include <pthread.h>
#include <signal.h>
static const int SIGNALS[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR2 };
static void fill(sigset_t *set) {
  sigemptyset(set);
  for (unsigned i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++) sigaddset(set, SIGNALS[i]);
}
static napi_value Block(napi_env env, napi_callback_info info) {
  sigset_t set; napi_value r;
  fill(&set);
  napi_get_boolean(env, pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, &r);
  return r;
}
static napi_value Blocked(napi_env env, napi_callback_info info) {
  sigset_t cur; int all = 1; napi_value r;
  if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0) all = 0;
  for (unsigned i = 0; all && i < sizeof SIGNALS / sizeof SIGNALS[0]; i++) if (!sigismember(&cur, SIGNALS[i])) all = 0;
  napi_get_boolean(env, all, &r);
  return r;
}
NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
    { "block", NULL, Block, NULL, NULL, NULL, napi_default, NULL },
    { "blocked", NULL, Blocked, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, d);
  return exports;
}
`;

/** Builds the signal guard into .native/signal-guard/ (a few seconds; once per checkout). Returns false where it cannot. */
function ensureSignalGuard() {
  const dest = join(root, '.native', 'signal-guard');
  if (existsSync(join(dest, 'signal_guard.node')) && !args.has('--force')) return true;
  const nodeGyp = findNodeGyp();
  if (!nodeGyp || process.platform === 'win32') return false;
  mkdirSync(join(root, '.native'), { recursive: true });
  const work = mkdtempSync(join(root, '.native', '.signal-guard-'));
  try {
    mkdirSync(dest, { recursive: true });
    buildAddon(nodeGyp, work, 'signal_guard', SIGNAL_GUARD_C, dest);
    log(`signal guard built (${dest})`);
    return true;
  } catch (err) {
    log(`signal guard not built: ${err.message}`);
    return false;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function gypArgsFor(moduleName, modulePath) {
  // Build against the running Node's own headers when they are installed (no header download).
  const prefix = resolve(dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir ||
    (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  const a = ['rebuild', `--module_name=${moduleName}`, `--module_path=${modulePath}`];
  if (nodedir) a.push(`--nodedir=${nodedir}`);
  return a;
}

/** Builds the one-file addon `name` from C `source` in `work/<name>/` and copies `<name>.node` into `dest`. */
function buildAddon(nodeGyp, work, name, source, dest) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'addon.c'), source);
  writeFileSync(join(dir, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: name, sources: ['addon.c'] }] }));
  run(process.execPath, [nodeGyp, ...gypArgsFor(name, dir)], { cwd: dir });
  cpSync(join(dir, 'build', 'Release', `${name}.node`), join(dest, `${name}.node`));
}

/** Drops debug symbols from the shared libraries (binutils' strip; ~30 % of their size). Skipped without strip. */
function stripLibs(lib) {
  if (process.env.AUTOPRUNE_NATIVE_STRIP === '0') return log('not stripping (AUTOPRUNE_NATIVE_STRIP=0)');
  if (spawnSync('strip', ['--version'], { stdio: 'ignore' }).status !== 0) return log('strip not found: libraries kept as they are');
  for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) run('strip', ['--strip-unneeded', join(lib, f)]);
}

/** Builds the binding into the shared cache; returns its folder. */
function buildShared() {
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) throw new Error('node-gyp was not found (it ships with npm)');
  mkdirSync(cacheRoot, { recursive: true });
  // Work inside the cache folder: the finished tree is renamed into place (same file system, atomic).
  const work = mkdtempSync(join(cacheRoot, '.build-'));
  try {
    const src = fetchTfjsNodeSources(work);
    const tfVersion = fetchLibtensorflow(work, join(src, 'deps'));
    const t0 = Date.now();
    run(process.execPath, [nodeGyp, ...gypArgsFor('tfjs_binding', join(src, 'lib', 'napi-v8'))], { cwd: src });
    buildAddon(nodeGyp, work, 'stderr_guard', STDERR_GUARD_C, join(src, 'lib'));
    log(`binding built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    rmSync(join(src, 'build'), { recursive: true, force: true });
    // Only the shared libraries run: the C API headers (~290 MB) and the binding's C++ sources were for the build.
    rmSync(join(src, 'deps', 'include'), { recursive: true, force: true });
    rmSync(join(src, 'binding'), { recursive: true, force: true });
    stripLibs(join(src, 'deps', 'lib'));
    writeFileSync(join(src, MARKER), `built ${new Date().toISOString()} from TensorFlow ${tfVersion}\n`);
    const shared = join(cacheRoot, `${keyPrefix}${tfVersion}${keySuffix}`);
    rmSync(shared, { recursive: true, force: true });
    renameSync(src, shared);
    return shared;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Shared builds for this tfjs-node version, platform and architecture, newest first. */
function sharedBuilds() {
  if (!existsSync(cacheRoot)) return [];
  return readdirSync(cacheRoot)
    .filter((d) => d.startsWith(keyPrefix) && d.endsWith(keySuffix) && existsSync(join(cacheRoot, d, MARKER)))
    .map((d) => join(cacheRoot, d))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
}

/** Points the project's .native/tfjs-node at a shared build: small files copied, `deps` linked. */
function linkProject(shared) {
  const tmp = `${nativeDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const e of readdirSync(shared)) {
    if (e !== 'deps') cpSync(join(shared, e), join(tmp, e), { recursive: true, verbatimSymlinks: true });
  }
  symlinkSync(join(shared, 'deps'), join(tmp, 'deps'));
  rmSync(nativeDir, { recursive: true, force: true });
  renameSync(tmp, nativeDir);
}

function sizeMb(dir) {
  const r = spawnSync('du', ['-sLm', dir], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split('\t')[0]) : NaN;
}

function main() {
  if (process.env.AUTOPRUNE_SKIP_NATIVE === '1') return log('skipped (AUTOPRUNE_SKIP_NATIVE=1)');
  if (!ensureSignalGuard()) {
    console.error('autoprune: warning: the signal guard was not built (node-gyp and a C compiler are needed): a signal arriving while ' +
      'TensorFlow computes can abort the process (docs/reliability.md, "Signals")');
  }
  const force = args.has('--force');
  const normal = resolveFromRoot('@tensorflow/tfjs-node');
  if (!force && normal && loads('@tensorflow/tfjs-node')) return log('native backend ready (@tensorflow/tfjs-node)');
  if (!force && existsSync(nativeDir) && loads(nativeDir)) return log(`native backend ready (${nativeDir})`);
  if (!force) {
    for (const shared of sharedBuilds()) {
      linkProject(shared);
      if (loads(nativeDir)) {
        console.error(`autoprune: native TensorFlow backend ready (shared build ${shared}, reused).`);
        return;
      }
      log(`${shared} does not load here; skipped`);
    }
  }
  console.error(`autoprune: building the native TensorFlow backend from a local TensorFlow wheel into ${cacheRoot} (once per machine, ~1 min)…`);
  try {
    const shared = buildShared();
    linkProject(shared);
    if (!loads(nativeDir)) throw new Error('the built binding does not load');
    console.error(`autoprune: native TensorFlow backend ready (${sizeMb(shared)} MB in ${shared}; redo with \`npx autoprune setup-native --force\`).`);
  } catch (err) {
    const detail = String(err?.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    console.error(
      `autoprune: WARNING no native TensorFlow backend (${err.message}${detail ? `: ${detail}` : ''}). ` +
      'autoprune will run on a much slower JS backend. Fix: make `npm install @tensorflow/tfjs-node` work, ' +
      'or give pip access to a tensorflow-cpu wheel and run `npx autoprune setup-native --force --verbose`.');
  }
}

main();
