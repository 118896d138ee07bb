/**
 * Column layout for command output that never cuts a value: an identifier or a fix command that
 * is cut is worse than none. Outside a terminal (file, pipe, CI log) rows are whole lines, columns
 * padded to their widest cell; on a terminal narrower than the table, cells wrap onto extra lines.
 */
const GAP = '  ';
const MIN_COLUMN = 8;

/** The width to lay tables out in: the terminal's, or undefined (no limit) when stdout is not one. */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

/** Column widths that fit `width`: narrow columns keep their width, wide ones share what is left. */
function fitWidths(natural: number[], width: number): number[] {
  const budget = Math.max(width - GAP.length * (natural.length - 1), natural.length * MIN_COLUMN);
  const widths = [...natural];
  let open = natural.map((_, i) => i);
  let left = budget;
  // Settle every column that fits in an equal share of what is left, until none does.
  for (;;) {
    const share = Math.floor(left / Math.max(open.length, 1));
    const fitting = open.filter((i) => natural[i]! <= share);
    if (!fitting.length) {
      for (const i of open) widths[i] = Math.max(MIN_COLUMN, share);
      return widths;
    }
    for (const i of fitting) left -= natural[i]!;
    open = open.filter((i) => natural[i]! > share);
    if (!open.length) return widths;
  }
}

/** Splits `text` into lines of at most `width` characters, at spaces where it can; no character is dropped. */
export function wrapCell(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > 0 ? space : width;
    lines.push(rest.slice(0, cut));
    rest = rest.slice(space > 0 ? cut + 1 : cut);
  }
  if (rest) lines.push(rest);
  return lines;
}

/**
 * Text from elsewhere (a VEX author, an alert title, a registry's image name) made safe to print
 * on a terminal: control characters (an escape sequence could rewrite the screen or the window
 * title) are shown as `\u{…}`, never sent; newlines and tabs become spaces.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\t\n\r]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** Lays out `rows` (the first is the header) as text lines; `width` undefined means no limit. */
export function renderColumns(rows: string[][], width?: number): string[] {
  if (!rows.length) return [];
  const cells = rows.map((row) => row.map((cell) => printable(cell).replace(/\s+/g, ' ').trim()));
  const count = Math.max(...cells.map((r) => r.length));
  const natural = Array.from({ length: count }, (_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const total = natural.reduce((a, b) => a + b, 0) + GAP.length * (count - 1);
  const widths = width === undefined || total <= width ? natural : fitWidths(natural, width);
  const lines: string[] = [];
  for (const row of cells) {
    const wrapped = Array.from({ length: count }, (_, i) => wrapCell(row[i] ?? '', widths[i]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let line = 0; line < height; line++) {
      lines.push(wrapped.map((w, i) => (w[line] ?? '').padEnd(i === count - 1 ? 0 : widths[i]!)).join(GAP).trimEnd());
    }
  }
  return lines;
}

/** Prints a table to stdout laid out for it. */
export function printTable(rows: string[][]): void {
  for (const line of renderColumns(rows, terminalWidth())) console.log(line);
}
