/** What `--overwrite` may replace: a previous run's output folder, with what autoprune itself adds to it later. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOverwritable, foreignInside } from '../../src/output-dir.js';
import { tempDir } from '../helpers.js';

/** A run's output with a frontier, and `autoprune compact` run on the run and on one of its targets. */
function output(): string {
  const out = tempDir();
  const files = ['report.json', 'masks.json', 'frontier.json', 'model/model.json', 'model/weights.bin', 'compact/model.json', 'compact/weights.bin', 'model.sparse', 'model.int8.sparse',
    'frontier/0.5/masks.json', 'frontier/0.5/model/model.json', 'frontier/0.5/model/weights.bin',
    'frontier/0.5/compact/model.json', 'frontier/0.5/compact/weights.bin', 'frontier/0.5/model.sparse', 'frontier/0.5/model.int8.sparse'];
  for (const f of files) {
    mkdirSync(join(out, f, '..'), { recursive: true });
    writeFileSync(join(out, f), f === 'report.json' ? '{"format":"autoprune-report"}' : '{}');
  }
  return out;
}

describe('--overwrite', () => {
  it('replaces a frontier target\'s folder holding `autoprune compact`\'s files, and still refuses a user file beside them', () => {
    const out = output();
    expect(foreignInside(out)).toEqual([]);
    expect(() => checkOverwritable(out, true, false)).not.toThrow();
    writeFileSync(join(out, 'frontier', '0.5', 'compact', 'notes.txt'), 'mine');
    writeFileSync(join(out, 'frontier', '0.5', 'plot.png'), 'mine');
    expect(foreignInside(out).sort()).toEqual(['frontier/0.5/compact/notes.txt', 'frontier/0.5/plot.png']);
    expect(() => checkOverwritable(out, true, false)).toThrow(/holds entries autoprune does not write \(.*frontier\/0\.5\/.*\), which --overwrite would delete/);
  });
});
