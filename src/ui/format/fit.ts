/**
 * Fitting a table to the terminal: columns are dropped, least important first, until the rest fits;
 * a table that still does not fit keeps its most important columns (the terminal wraps what is left).
 */

/** Display width of a cell: its longest line, in code points (the tables hold no wide characters). */
export function cellWidth(text: string): number {
  return Math.max(0, ...text.split('\n').map((l) => [...l].length));
}

/**
 * Which columns to keep: `widths[i]` is column i's width including its padding and border, `dropOrder`
 * lists column indices from the first to drop; `extra` is what the row needs besides the columns.
 */
export function keepColumns(widths: readonly number[], available: number, dropOrder: readonly number[], extra = 0): boolean[] {
  const keep = widths.map(() => true);
  let total = widths.reduce((a, w) => a + w, extra);
  for (const i of dropOrder) {
    if (total <= available) break;
    if (keep[i]) {
      keep[i] = false;
      total -= widths[i] ?? 0;
    }
  }
  return keep;
}

/** A cli-table3 table's head and rows with the columns that fit `available` characters (compact style: 3 per column + 1). */
export function fitTable(head: readonly string[], rows: readonly (readonly string[])[], available: number | undefined, dropOrder: readonly number[]): { head: string[]; rows: string[][] } {
  if (available === undefined || available <= 0) return { head: [...head], rows: rows.map((r) => [...r]) };
  const widths = head.map((h, i) => Math.max(cellWidth(h), ...rows.map((r) => cellWidth(r[i] ?? ''))) + 3);
  const keep = keepColumns(widths, available, dropOrder, 1);
  const pick = <T,>(xs: readonly T[]): T[] => xs.filter((_, i) => keep[i]);
  return { head: pick(head), rows: rows.map((r) => pick(r)) };
}
