/**
 * `logdir` (CLI `--logdir`): TensorBoard event files with the run's scalars. The file is read back as
 * TensorBoard reads it (TFRecord framing, `Event` protos) and compared with the run's own events.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoprune, tf, UsageError, type AgentEvent } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { lockOutDir } from '../../src/output-dir.js';

process.env.AUTOPRUNE_CACHE_DIR = tempDir('autoprune-tb-cache-');

/** Reads a protobuf varint at `pos`; returns [value, next position]. */
function varint(b: Buffer, pos: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    v += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [v, pos];
    shift += 7;
  }
}

/** Fields of one protobuf message: number → raw values (varints as numbers, the rest as buffers). */
function fields(b: Buffer): Map<number, (number | Buffer)[]> {
  const out = new Map<number, (number | Buffer)[]>();
  let pos = 0;
  while (pos < b.length) {
    let key: number;
    [key, pos] = varint(b, pos);
    const field = Math.floor(key / 8);
    let v: number | Buffer;
    switch (key & 7) {
      case 0: [v, pos] = varint(b, pos); break;
      case 1: v = b.subarray(pos, pos + 8); pos += 8; break;
      case 5: v = b.subarray(pos, pos + 4); pos += 4; break;
      case 2: { let n: number; [n, pos] = varint(b, pos); v = b.subarray(pos, pos + n); pos += n; break; }
      default: throw new Error(`wire type ${key & 7}`);
    }
    out.set(field, [...(out.get(field) ?? []), v]);
  }
  return out;
}

/** Scalars of a TensorBoard event file: TFRecords (u64 length, u32 crc, data, u32 crc) of Event{step=2, summary=5{value=1{tag=1, simple_value=2}}}. */
function readScalars(file: string): { tag: string; step: number; value: number }[] {
  const b = readFileSync(file);
  const out: { tag: string; step: number; value: number }[] = [];
  for (let pos = 0; pos < b.length;) {
    const n = Number(b.readBigUInt64LE(pos));
    const event = fields(b.subarray(pos + 12, pos + 12 + n));
    pos += 12 + n + 4;
    const step = (event.get(2)?.[0] as number | undefined) ?? 0;
    for (const summary of (event.get(5) ?? []) as Buffer[]) {
      for (const value of (fields(summary).get(1) ?? []) as Buffer[]) {
        const f = fields(value);
        const raw = f.get(2)?.[0] as Buffer | undefined;
        if (raw) out.push({ tag: (f.get(1)![0] as Buffer).toString('utf8'), step, value: raw.readFloatLE(0) });
      }
    }
  }
  return out;
}

describe('TensorBoard summaries (logdir)', () => {
  it('writes the sparsity and metric of every accepted step, every rollback and the final figures, as the events say', async () => {
    const logdir = join(tempDir('autoprune-tb-'), 'logs');
    const events: AgentEvent[] = [];
    const { model, report } = await autoprune({
      target: 0.7, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 6, logdir,
      onEvent: (e) => events.push(e),
    });
    model.dispose();
    const files = readdirSync(logdir).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(files.length).toBe(1);
    const scalars = readScalars(join(logdir, files[0]));
    const of = (tag: string) => scalars.filter((s) => s.tag === tag);
    const steps = events.filter((e): e is Extract<AgentEvent, { type: 'step' }> => e.type === 'step');
    expect(steps.length).toBeGreaterThan(0);
    // The start (sparsity 0 at step 0), then one point per accepted step at its optimizer-step count.
    expect(of('sparsity/accepted').map((s) => [s.step, s.value])).toEqual([[0, 0], ...steps.map((e) => [e.totalSteps, Math.fround(e.toSparsity)])]);
    expect(of('accuracy/val').slice(1).map((s) => s.value)).toEqual(steps.map((e) => Math.fround(e.valAccuracy)));
    const rollbacks = events.filter((e) => e.type === 'rollback');
    expect(of('sparsity/rejected').length).toBe(rollbacks.length);
    expect(of('final/sparsity').map((s) => s.value)).toEqual([Math.fround(report.final.sparsity)]);
    expect(of('final/accuracy_test').map((s) => s.value)).toEqual([Math.fround(report.final.testAccuracy)]);
    // At the run's last optimizer step, after the polish (they were plotted at the last accepted step's).
    expect(of('final/sparsity').map((s) => s.step)).toEqual([report.totals.fineTuneSteps]);
    expect(of('fine_tune/loss').length).toBe(events.filter((e) => e.type === 'epoch' && e.phase !== 'dense' && e.phase !== 'control').length);
  });

  it('closes its writer when the run ends: runs with a logdir each leave no tensor behind, and a logdir can be written again', async () => {
    const root = tempDir('autoprune-tb-sweep-');
    const before = tf.memory().numTensors;
    for (const name of ['a', 'b', 'a']) {
      const { model } = await autoprune({ target: 0.5, data: 'synthetic', policy: 'global-magnitude', budgetEpochs: 1, force: true, logdir: join(root, name) });
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    // The second run in 'a' wrote a file of its own, with its scalars (a closed writer does not swallow them).
    const files = readdirSync(join(root, 'a')).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(files.length).toBe(2);
    for (const f of files) expect(readScalars(join(root, 'a', f)).some((s) => s.tag === 'final/sparsity')).toBe(true);
    // A run refused at its output folder's lock (another run holds it) leaves no writer behind either.
    const out = join(root, 'out');
    const release = lockOutDir(out);
    try {
      await expect(autoprune({ target: 0.5, data: 'synthetic', out, logdir: join(root, 'c') })).rejects.toThrow(/in use by another autoprune run/);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      release();
    }
  });

  it('refuses a logdir inside the input model\'s folder or that is a file, before anything is written', async () => {
    const dir = tempDir('autoprune-tb-bad-');
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    await expect(autoprune({ target: 0.5, data: 'synthetic', logdir: file })).rejects.toThrow(UsageError);
    await expect(autoprune({ target: 0.5, data: 'synthetic', logdir: file })).rejects.toThrow(/logdir '.*' exists and is not a folder/);
    await expect(autoprune({ target: 0.5, data: 'synthetic', logdir: join(dir, 'logs'), out: dir, overwrite: true })).rejects.toThrow(/inside the output folder/);
    expect(existsSync(join(dir, 'logs'))).toBe(false);
  });
});
