import { describe, expect, it } from 'vitest';
import { formatDuration, formatTable, formatTime } from '../../../lib/cli/table.js';

describe('formatTable', () => {
  it('pads each column to its widest cell, numbers to the right, with no trailing blanks', () => {
    const table = formatTable(
      [{ heading: 'NAME' }, { heading: 'N', align: 'right' }, { heading: 'NOTE' }],
      [
        ['a', '1', ''],
        ['longer-name', '1234', 'x'],
      ],
    );
    expect(table).toBe(['NAME            N  NOTE', 'a               1', 'longer-name  1234  x', ''].join('\n'));
  });

  it('prints the headings alone when there are no rows', () => {
    expect(formatTable([{ heading: 'A' }, { heading: 'B' }], [])).toBe('A  B\n');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [999, '999ms'],
    [1000, '1.0s'],
    [12_345, '12.3s'],
    [59_999, '59.9s'],
    [60_000, '1m00s'],
    [245_000, '4m05s'],
    [3_600_000, '1h00m'],
    [11_220_000, '3h07m'],
    [86_400_000 * 2 + 3_600_000 * 4, '2d04h'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatTime', () => {
  it('is UTC to the second', () => {
    expect(formatTime(Date.UTC(2024, 4, 1, 12, 0, 3, 999))).toBe('2024-05-01 12:00:03Z');
  });
});
