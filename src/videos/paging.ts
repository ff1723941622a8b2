import { encodeCursor } from "../platform/cursor";

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says whether there is a next page,
 * and the cursor is the sort key of the last row shown.
 */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  present: (row: Row) => Item,
  sortKey: (row: Row) => (string | number | null)[],
): { items: Item[]; next_cursor: string | null } {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  return {
    items: shown.map(present),
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor(sortKey(last)) : null,
  };
}
