import Table from 'cli-table3';

/**
 * A console table; coloured borders and headers only on a terminal and without NO_COLOR (no-color.org), so
 * piped or redirected output, or a user who asked for none, gets no ANSI escape codes.
 */
export function consoleTable(head?: string[]): Table.Table {
  const plain = !process.stdout.isTTY || Boolean(process.env.NO_COLOR);
  return new Table({ ...(head ? { head } : {}), ...(plain ? { style: { head: [], border: [] } } : {}) });
}
