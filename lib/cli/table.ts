/** A column of a plain text table: its heading, and whether its cells align right (numbers). */
export interface Column {
  readonly heading: string;
  readonly align?: 'left' | 'right';
}

/**
 * Rows as a plain table: columns separated by two spaces, each as wide as its widest cell, no borders, no trailing
 * blanks, so that it reads in any terminal and stays easy to cut with awk. Widths count UTF-16 code units (stream
 * names are usually ASCII; a wide character only shifts the rest of its row).
 */
export function formatTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((column, i) => Math.max(column.heading.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return column.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.heading)), ...rows.map(line)].join('\n') + '\n';
}

/** A duration for a person: `850ms`, `12.3s`, `4m05s`, `3h07m`, `2d04h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
  const hours = Math.floor(minutes / 60);
  return `${Math.floor(hours / 24)}d${pad(hours % 24)}h`;
}

/** A server time (ms since the epoch) in UTC, to the second: `2024-05-01 12:00:03Z`. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
