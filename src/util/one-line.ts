/**
 * A message as one line of plain text: error and warning messages quote file contents (a CSV cell, a layer's
 * class name), which may hold newlines (a second line that reads like our own output) or terminal escape
 * codes (a cleared screen). Line breaks become ' ⏎ ', other control characters \xNN escapes.
 */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/\r\n|\r|\n/g, ' ⏎ ').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
