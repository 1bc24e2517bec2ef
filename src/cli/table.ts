import Table from 'cli-table3';

/**
 * A console table; coloured borders and headers only on a terminal, so piped or redirected output
 * carries no ANSI escape codes.
 */
export function consoleTable(head?: string[]): Table.Table {
  const plain = !process.stdout.isTTY;
  return new Table({ ...(head ? { head } : {}), ...(plain ? { style: { head: [], border: [] } } : {}) });
}
