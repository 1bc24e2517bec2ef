import { makeDirs } from '../util/make-dirs.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OracleOptions, OracleResult } from './oracle.js';

type CacheableOptions = Omit<OracleOptions, 'onEvent' | 'onStage'>;

/** File name of an oracle result for these settings (inside a zoo model's cache folder). */
export function oracleCacheFile(modelDir: string, options: CacheableOptions): string {
  const h = createHash('sha256').update(JSON.stringify(options, Object.keys(options).sort())).digest('hex');
  return join(modelDir, `oracle-${h.slice(0, 12)}.json`);
}

/** Saves an oracle result (removedAt as base64) so evaluations can reuse it without re-running the search. */
export function saveOracleResult(modelDir: string, options: CacheableOptions, r: OracleResult): string {
  const path = oracleCacheFile(modelDir, options);
  makeDirs(modelDir);
  writeFileSync(path, JSON.stringify({
    options, targets: r.targets, denseValAccuracy: r.denseValAccuracy, stages: r.stages, seconds: r.seconds,
    removedAt: r.removedAt.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')),
  }));
  return path;
}

export function loadOracleResult(modelDir: string, options: CacheableOptions): OracleResult | undefined {
  const path = oracleCacheFile(modelDir, options);
  if (!existsSync(path)) return undefined;
  const j = JSON.parse(readFileSync(path, 'utf8')) as Omit<OracleResult, 'removedAt'> & { removedAt: string[] };
  return { ...j, removedAt: j.removedAt.map((s) => new Uint8Array(Buffer.from(s, 'base64'))) };
}
