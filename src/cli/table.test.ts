import { describe, expect, it } from 'vitest';
import { printable, renderColumns, wrapCell } from './table.js';

const ROWS = [
  ['SEVERITY', 'ID', 'REMEDIATION'],
  ['high', 'CVE-2024-45490', 'apt-get install --only-upgrade libexpat1=2.5.0-1+deb12u1'],
  ['low', 'GHSA-xxxx-yyyy-zzzz', 'npm install cross-spawn@7.0.5'],
];

describe('command tables', () => {
  it('outside a terminal, keeps every row whole on one line', () => {
    const lines = renderColumns(ROWS);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^high\s+CVE-2024-45490\s+apt-get install --only-upgrade libexpat1=2\.5\.0-1\+deb12u1$/);
  });

  it('on a narrow terminal, wraps cells within the width and loses no character', () => {
    const lines = renderColumns(ROWS, 50);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(50);
    const text = lines.join(' ').replace(/\s+/g, '');
    for (const row of ROWS) for (const cell of row) expect(text).toContain(cell.replace(/\s+/g, ''));
  });

  it('wraps at spaces, and splits a word longer than the column without dropping any of it', () => {
    expect(wrapCell('npm install cross-spawn@7.0.5', 12)).toEqual(['npm install', 'cross-spawn@', '7.0.5']);
    expect(wrapCell('sha256:0123456789abcdef', 10).join('')).toBe('sha256:0123456789abcdef');
  });

  it('never sends a control character from the data to the terminal (an uploaded VEX author, an alert title)', () => {
    const author = 'Mallory\u001b]0;pwned\u0007\u001b[2J\u009b31m';
    const [, row] = renderColumns([['ID', 'AUTHOR'], ['vex_1', author]]);
    // eslint-disable-next-line no-control-regex
    expect(row).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(row).toContain('Mallory\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m');
    expect(printable('line one\nline two\ttab')).toBe('line one line two tab');
    expect(printable('plain text: ünïcode stays')).toBe('plain text: ünïcode stays');
  });
});
