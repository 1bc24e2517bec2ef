import { describe, expect, it } from 'vitest';
import { MESSAGE_MAX, oneLine, QUOTE_MAX } from '../../src/util/one-line.js';

describe('oneLine', () => {
  it('puts line breaks and control characters on one line', () => {
    expect(oneLine('a\nb\r\nc\x1b[2J')).toBe('a ⏎ b ⏎ c\\x1b[2J');
  });

  it('keeps a short message whole and cuts a long quote to its start and end, saying how much was left out', () => {
    expect(oneLine(`column 'x': '${'1'.repeat(QUOTE_MAX - 4)}' is not a number`)).toBe(`column 'x': '${'1'.repeat(QUOTE_MAX - 4)}' is not a number`);
    const cell = `'${'1'.repeat(5_000_000)}'`;
    const line = oneLine(`data 'd.csv' line 2, column 'sl': ${cell} overflows to Infinity; values must be finite`);
    expect(line.length).toBeLessThan(400);
    // Never half of a surrogate pair at a cut.
    // (Odd and even offsets: the head's cut and the tail's each fall inside a pair in one of them.)
    for (const s of [`x${'😀'.repeat(1000)}`, `${'😀'.repeat(1000)}x`]) expect(oneLine(s)).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u);
    expect(line).toMatch(/^data 'd\.csv' line 2, column 'sl': '1{159}…\(4,999,802 characters left out\)…1{39}' overflows to Infinity; values must be finite$/);
  });

  it('cuts a long message of short words to its start and its end', () => {
    const line = oneLine(`class names ${'ab '.repeat(10_000)}: give --label-order`);
    expect(line.length).toBeLessThanOrEqual(MESSAGE_MAX + 60);
    expect(line.startsWith('class names ab ab')).toBe(true);
    expect(line.endsWith(': give --label-order')).toBe(true);
    expect(line).toMatch(/…\([\d,]+ characters left out\)…/);
  });
});
