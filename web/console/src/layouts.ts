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
