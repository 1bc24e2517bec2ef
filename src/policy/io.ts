import { existsSync, readdirSync, statSync } from 'node:fs';
import { makeDirs } from '../util/make-dirs.js';
import { writeFileAtomicSync } from '../util/atomic-write.js';
import { readRegularFile } from '../util/regular-file.js';

/** The largest policy file read (the shipped trees are well under 1 MB; a policy net's weights a few). */
const MAX_POLICY_BYTES = 256 * 1024 * 1024;
import { basename, dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../backend/tf.js';
import { PolicyError } from '../errors.js';
import { createScorer, SCORER_NAMES, SCORERS, type ScorerOptions } from './baselines.js';
import { CartPolicy, formatIssues } from './cart-policy.js';
import { NetPolicy } from './net-policy.js';
import { LinearPolicy } from './linear-policy.js';
import { POLICY_FILE_VERSION, POLICY_FORMAT, type Policy, type PolicyFile, type PolicyKind } from './policy.js';
import type { Scorer } from './types.js';
import { allocatedBy, correctedPrior, CORRECTION_WEIGHT } from './allocated.js';
import { DOMAIN_SCHEMA } from './domain.js';

export type PolicyLoader = (file: PolicyFile, source: string) => Policy;

/** Policy kinds by name: each loader validates its `model` and builds the policy. */
export const POLICY_KINDS: Readonly<Record<PolicyKind, PolicyLoader>> = Object.freeze({
  cart: (file: PolicyFile, source: string) => CartPolicy.fromJSON(file, source),
  net: (file: PolicyFile, source: string) => NetPolicy.fromJSON(file, source),
  linear: (file: PolicyFile, source: string) => LinearPolicy.fromJSON(file, source),
});

/** Policies shipped with autoprune. */
export const BUILTIN_POLICY_DIR = join(PACKAGE_ROOT, 'policies');

const ENVELOPE = z.object({
  format: z.literal(POLICY_FORMAT),
  version: z.literal(POLICY_FILE_VERSION),
  kind: z.string(),
  name: z.string().min(1),
  featureSchema: z.object({ version: z.number().int().nonnegative(), names: z.array(z.string().min(1)).min(1) }),
  model: z.unknown(),
  provenance: z.object({
    families: z.array(z.string()), models: z.array(z.string()), rows: z.number().int().nonnegative(), command: z.string(),
    // Optional (policies trained before 2026-12-06 have none), but when present it decides how the agent uses the
    // policy (src/policy/domain.ts): a malformed one is refused, not silently ignored.
    domain: DOMAIN_SCHEMA.optional(),
  }).passthrough(),
  metrics: z.record(z.unknown()),
}).strict(); // (an unknown key is a typo or another tool's file: refused, not silently dropped; provenance stays open)

/** Checks a parsed policy file (format, version, kind, envelope) and builds the policy. */
export function policyFromJSON(json: unknown, source = '(in memory)'): Policy {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PolicyError(`policy file ${source} does not hold a JSON object`);
  }
  const j = json as Record<string, unknown>;
  if (j.format !== POLICY_FORMAT) {
    throw new PolicyError(`${source} is not an autoprune policy file (format is ${JSON.stringify(j.format)}, expected '${POLICY_FORMAT}')`);
  }
  if (j.version !== POLICY_FILE_VERSION) {
    throw new PolicyError(
      `policy file ${source} has format version ${JSON.stringify(j.version)}; this autoprune reads version ${POLICY_FILE_VERSION}` +
      (typeof j.version === 'number' && j.version > POLICY_FILE_VERSION ? ' (upgrade autoprune)' : ''));
  }
  const kinds = Object.keys(POLICY_KINDS);
  if (typeof j.kind !== 'string' || !kinds.includes(j.kind)) {
    throw new PolicyError(`policy file ${source} has unknown kind ${JSON.stringify(j.kind)}; known kinds: ${kinds.join(', ')}`);
  }
  const parsed = ENVELOPE.safeParse(json);
  if (!parsed.success) throw new PolicyError(`policy file ${source} is malformed: ${formatIssues(parsed.error)}`);
  const names = parsed.data.featureSchema.names;
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new PolicyError(`policy file ${source}: feature '${dup}' appears twice in featureSchema.names`);
  return POLICY_KINDS[j.kind as PolicyKind](parsed.data as PolicyFile, source);
}

/**
 * JSON with objects indented and arrays of numbers/strings kept on lines of about 100 characters,
 * so a retrained policy diffs line by line without a line per number.
 */
export function stringifyPolicy(p: Policy | PolicyFile): string {
  const file = 'toJSON' in p && typeof p.toJSON === 'function' ? p.toJSON() : p;
  return format(file, '') + '\n';
}

function format(v: unknown, indent: string): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => x === null || typeof x !== 'object')) {
      const parts = v.map((x) => JSON.stringify(x) ?? 'null');
      const lines: string[] = [];
      let line = '';
      for (const s of parts) {
        if (line && line.length + s.length + 2 > 100) { lines.push(line); line = ''; }
        line += (line ? ', ' : '') + s;
      }
      lines.push(line);
      return lines.length === 1 && lines[0].length <= 80 ? `[${lines[0]}]` : `[\n${lines.map((l) => inner + l).join(',\n')}\n${indent}]`;
    }
    return `[\n${v.map((x) => inner + format(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** Writes a policy file atomically (temporary file in the same folder, then rename). Returns the path. */
export function savePolicy(policy: Policy, path: string): string {
  const target = resolve(path);
  makeDirs(dirname(target));
  try {
    writeFileAtomicSync(target, stringifyPolicy(policy));
  } catch (err) {
    throw new PolicyError(`cannot write policy file ${target}: ${(err as Error).message}`);
  }
  return target;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes('\\') || s.endsWith('.json');
}

/** Names of the policies (NAME.json) in a folder; [] when it does not exist. */
export function listPolicies(dir: string = BUILTIN_POLICY_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export interface LoadPolicyOptions {
  /** Folders searched for NAME.json when given a bare name. Default: ./policies, then the built-in policies. */
  dirs?: string[];
}

/** The file a policy name or path refers to; PolicyError listing the available policies when none. */
export function resolvePolicyPath(pathOrName: string, opts: LoadPolicyOptions = {}): string {
  // A bare name is a file only where a file of that name exists here: a folder called 'default' (an output
  // folder of an earlier run, say) must not hide the built-in policy of that name.
  if (looksLikePath(pathOrName) || isFile(pathOrName)) return resolve(pathOrName);
  // (./policies is the built-in folder itself when run from the package: searched and named once.)
  const dirs = [...new Set(opts.dirs ?? [resolve('policies'), BUILTIN_POLICY_DIR])];
  for (const d of dirs) {
    const p = join(d, `${pathOrName}.json`);
    if (existsSync(p)) return p;
  }
  // Only files that load as policies are offered; the others are named apart (a broken file listed as available
  // sends the user from one error to the next).
  const found = [...new Set(dirs.flatMap((d) => listPolicies(d).map((n) => join(d, `${n}.json`))))];
  const ok = (f: string) => { try { loadPolicy(f); return true; } catch { return false; } };
  const names = (fs: string[]) => [...new Set(fs.map((f) => basename(f, '.json')))].join(', ');
  const available = found.filter(ok);
  const broken = found.filter((f) => !available.includes(f));
  throw new PolicyError(
    `no policy '${pathOrName}': not a file, and no ${pathOrName}.json in ${dirs.join(', ')}` +
    (available.length ? `; available policies: ${names(available)}` : '; no policies found there') +
    (broken.length ? `; not loadable as policies: ${broken.map((f) => relative(process.cwd(), f) || f).join(', ')}` : ''));
}

/** Loads and validates a policy file by path, or by name from the policy folders. */
export function loadPolicy(pathOrName: string, opts: LoadPolicyOptions = {}): Policy {
  const path = resolvePolicyPath(pathOrName, opts);
  const text = readRegularFile(path, 'policy file', MAX_POLICY_BYTES, (m) => new PolicyError(m)).toString('utf8').replace(/^\uFEFF/, '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`policy file ${path} is not valid JSON (${(err as Error).message}); is it truncated or hand-edited?`);
  }
  return policyFromJSON(json, path);
}

/**
 * An 'X@a+Y' or 'X+Y' spec split into its parts (X: the order inside each layer, Y: the prior whose allocation is
 * kept, a: X's weight); undefined for a plain name or an existing file. A spec with '@' that does not parse, or a
 * weight outside [0, 1], is a PolicyError saying the form.
 */
export function parsePolicySpec(spec: string): { own: string; weight?: number; prior: string } | undefined {
  if (isFile(spec)) return undefined;
  const m = /^([^+@]+)(?:@([^+@]*))?\+([^+@]+)$/.exec(spec);
  if (!m) {
    if (spec.includes('@')) {
      throw new PolicyError(`'${spec}' is not a policy of the form X@a+Y (X's ranks mixed into the prior Y's with a weight a in [0, 1], Y's allocation kept; e.g. default@0.25+lamp)`);
    }
    return undefined;
  }
  const [, own, alpha, prior] = m;
  if (alpha === undefined) return { own, prior };
  const a = /^\d*\.?\d+$/.test(alpha) ? Number(alpha) : NaN;
  if (!(a >= 0 && a <= 1)) throw new PolicyError(`'${spec}': the weight after '@' must be a number in [0, 1], got '${alpha}'`);
  return { own, weight: a, prior };
}

/**
 * The policy of a single cut (`pruneOnce`, the benchmark's one-shot `learned` rows): the shipped policy as a bounded
 * correction of LAMP — each layer keeps LAMP's share, and inside it the policy's rank moves a connection by at most a
 * quarter of LAMP's (src/policy/allocated.ts). One cut of 90–98 % without fine-tuning in between is where the
 * policy's own allocation loses to LAMP's on both LeNets and the correction wins (docs/oracle.md, "A bounded learned
 * correction of LAMP"); in the agent's small steps with fine-tuning between, and in a gradual schedule, the policy's
 * own allocation does better on MLPs, so those keep `default`.
 */
export const ONE_SHOT_POLICY = 'default@0.25+lamp';

/** `policy` (a name or a path, which may hold '@' or '+') as ONE_SHOT_POLICY corrects LAMP with the default policy. */
export function oneShotScorer(policy: string, name = `${policy}@0.25+lamp`, opts: ScorerOptions & LoadPolicyOptions = {}): Scorer {
  const lamp = resolveScorer('lamp', opts);
  return correctedPrior(loadPolicy(policy, opts), lamp, CORRECTION_WEIGHT, name);
}

/**
 * A scorer by name: a baseline from SCORERS, otherwise a learned policy (name or path). The error for
 * an unknown name lists both the baselines and the available policies.
 */
export function resolveScorer(nameOrPath: string, opts: ScorerOptions & LoadPolicyOptions = {}): Scorer {
  if (Object.prototype.hasOwnProperty.call(SCORERS, nameOrPath)) return createScorer(nameOrPath, opts);
  // "X+Y": X's order inside each layer, Y's allocation across layers; "X@a+Y": X's ranks mixed into Y's with
  // weight a inside each layer (a bounded correction of the prior Y), Y's allocation (src/policy/allocated.ts).
  const spec = parsePolicySpec(nameOrPath);
  if (spec) {
    const p = resolveScorer(spec.prior, opts);
    const o = resolveScorer(spec.own, opts);
    return spec.weight === undefined ? allocatedBy(o, p, nameOrPath) : correctedPrior(o, p, spec.weight, nameOrPath);
  }
  try {
    return loadPolicy(nameOrPath, opts);
  } catch (err) {
    if (err instanceof PolicyError && err.message.startsWith('no policy ')) {
      throw new PolicyError(`${err.message}; baseline scorers: ${SCORER_NAMES.join(', ')}`);
    }
    throw err;
  }
}
