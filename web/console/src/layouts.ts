// The grid layouts: n tiles on a square grid of `columns`; in 6 and 8 the first tile
// spans `big` × `big` cells (6 = 3×3 with a 2×2 tile and 5 more, 8 = 4×4 with a 3×3 tile
// and 7 more).
export const LAYOUT_IDS = [1, 4, 6, 8, 9, 16] as const;
export type LayoutId = (typeof LAYOUT_IDS)[number];

export interface Layout {
  id: LayoutId;
  columns: number;
  count: number;
  /** The span of the first tile (1: all tiles alike). */
  big: number;
}

export const LAYOUTS: Record<LayoutId, Layout> = {
  1: { id: 1, columns: 1, count: 1, big: 1 },
  4: { id: 4, columns: 2, count: 4, big: 1 },
  6: { id: 6, columns: 3, count: 6, big: 2 },
  8: { id: 8, columns: 4, count: 8, big: 3 },
  9: { id: 9, columns: 3, count: 9, big: 1 },
  16: { id: 16, columns: 4, count: 16, big: 1 },
};

export const MAX_TILES = 16;

export function isLayoutId(n: unknown): n is LayoutId {
  return (LAYOUT_IDS as readonly unknown[]).includes(n);
}

export type Direction = 'left' | 'right' | 'up' | 'down';

/**
 * Where each tile of `layout` sits on its square grid, as CSS grid places them: the first
 * tile spans `big` × `big` cells at the top left, the others fill the free cells row by row.
 * `cells[row][column]` is the tile's index.
 */
export function gridCells(layout: Layout): number[][] {
  const n = layout.columns;
  const cells: number[][] = Array.from({ length: n }, () => Array<number>(n).fill(-1));
  let next = 0;
  if (layout.big > 1) {
    for (let r = 0; r < layout.big; r++) for (let c = 0; c < layout.big; c++) cells[r]![c] = 0;
    next = 1;
  }
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (cells[r]![c] === -1 && next < layout.count) cells[r]![c] = next++;
    }
  }
  return cells;
}

/** The rows and columns tile `index` covers in `cells` (all -1 when it covers none). */
export function tileBounds(
  cells: number[][],
  index: number,
): { top: number; left: number; bottom: number; right: number } {
  let top = -1;
  let left = -1;
  let bottom = -1;
  let right = -1;
  cells.forEach((row, r) =>
    row.forEach((owner, c) => {
      if (owner !== index) return;
      if (top === -1) top = r;
      if (left === -1 || c < left) left = c;
      bottom = Math.max(bottom, r);
      right = Math.max(right, c);
    }),
  );
  return { top, left, bottom, right };
}

/**
 * The tile next to `index` in direction `dir` (itself at the grid's edge). From a spanning
 * tile the step leaves from its top row (left, right) or its left column (up, down), so
 * that a step back returns to it.
 */
export function neighbour(layout: Layout, index: number, dir: Direction): number {
  const cells = gridCells(layout);
  const { top, left, bottom, right } = tileBounds(cells, index);
  if (top === -1) return index;
  const [r, c] =
    dir === 'left' ? [top, left - 1] : dir === 'right' ? [top, right + 1] : dir === 'up' ? [top - 1, left] : [bottom + 1, left];
  const owner = cells[r]?.[c];
  return owner === undefined || owner < 0 ? index : owner;
}
