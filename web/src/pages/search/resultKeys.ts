// Keyboard moves through the result grid: arrows (left/right along the reading order, up/down a row of the grid),
// Home and End. Pure: the list measures its columns and moves the focus.

/** How many cards share the first card's row (the grid's column count), from the cards' top offsets. */
export function columnsOf(tops: readonly number[]): number {
  if (tops.length === 0) return 1;
  let n = 0;
  while (n < tops.length && Math.abs(tops[n]! - tops[0]!) < 1) n++;
  return Math.max(1, n);
}

/** The index the focus moves to for `key` from `index` among `count` cards in `columns` columns; null for a key that
 * does not move it. At an edge the focus stays. */
export function nextIndex(key: string, index: number, count: number, columns: number): number | null {
  if (count <= 0) return null;
  const last = count - 1;
  switch (key) {
    case "ArrowRight":
      return Math.min(index + 1, last);
    case "ArrowLeft":
      return Math.max(index - 1, 0);
    case "ArrowDown":
      return index + columns <= last ? index + columns : index;
    case "ArrowUp":
      return index - columns >= 0 ? index - columns : index;
    case "Home":
      return 0;
    case "End":
      return last;
    default:
      return null;
  }
}
