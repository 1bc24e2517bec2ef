/**
 * A message as one line of plain text: error and warning messages quote file contents (a CSV cell, a layer's
 * class name), which may hold newlines (a second line that reads like our own output) or terminal escape
 * codes (a cleared screen). Line breaks become ' ⏎ ', other control characters \xNN escapes. A quote can also be
 * of any length (a 50 MB CSV cell made a 50 MB error line): a run of more than QUOTE_MAX characters without a space
 * keeps its start and end around a count of what was left out, and a message still longer than MESSAGE_MAX keeps its
 * start and its end (where what to do is said).
 */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = message.replace(/\r\n|\r|\n/g, ' ⏎ ').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const short = plain.replace(new RegExp(`\\S{${QUOTE_MAX + 1},}`, 'g'), (run) => cut(run, 160, 40));
  return short.length > MESSAGE_MAX ? cut(short, 1500, 480) : short;
}

/** The longest run without a space kept whole (a quoted value; a path of up to 400 characters stays whole). */
export const QUOTE_MAX = 400;
/** The longest message kept whole. */
export const MESSAGE_MAX = 2000;

function cut(s: string, head: number, tail: number): string {
  // Never between the two halves of a surrogate pair (an emoji, a CJK extension character).
  const h = isHighSurrogate(s.charCodeAt(head - 1)) ? head - 1 : head;
  const t = isHighSurrogate(s.charCodeAt(s.length - tail - 1)) ? tail + 1 : tail;
  return `${s.slice(0, h)}…(${(s.length - h - t).toLocaleString('en')} characters left out)…${s.slice(s.length - t)}`;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
