// The digital zoom of a tile: a scale and a translation of the video element, the
// translation in fractions of the element's size (so that it survives a resize, e.g.
// maximising), applied as `translate(x·100 %, y·100 %) scale(s)` with origin top left.

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 8;
/** Zoom factor per wheel notch (100 px of deltaY). */
export const WHEEL_STEP = 1.25;

export interface Zoom {
  /** 1 (whole picture) to [`MAX_ZOOM`]. */
  scale: number;
  /** Left edge of the scaled picture, in element widths (`1 - scale` … 0). */
  x: number;
  /** Top edge, in element heights (`1 - scale` … 0). */
  y: number;
}

export const NO_ZOOM: Zoom = { scale: 1, x: 0, y: 0 };

const clampTo = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** `z` moved back so that the picture covers the element (no empty border). */
export function clampZoom(z: Zoom): Zoom {
  const scale = clampTo(z.scale, MIN_ZOOM, MAX_ZOOM);
  return { scale, x: clampTo(z.x, 1 - scale, 0), y: clampTo(z.y, 1 - scale, 0) };
}

/**
 * `z` scaled by `factor` around the point (`u`, `v`) of the element (fractions of its
 * width and height, 0..1): that point of the picture stays under the pointer.
 */
export function zoomAt(z: Zoom, factor: number, u: number, v: number): Zoom {
  const scale = clampTo(z.scale * factor, MIN_ZOOM, MAX_ZOOM);
  const k = scale / z.scale;
  return clampZoom({ scale, x: u - (u - z.x) * k, y: v - (v - z.y) * k });
}

/** `z` panned by (`du`, `dv`) element fractions. */
export function panBy(z: Zoom, du: number, dv: number): Zoom {
  return clampZoom({ scale: z.scale, x: z.x + du, y: z.y + dv });
}

/** The CSS transform of `z`. */
export function zoomTransform(z: Zoom): string {
  if (z.scale === 1) return 'none';
  return `translate(${(z.x * 100).toFixed(4)}%, ${(z.y * 100).toFixed(4)}%) scale(${z.scale.toFixed(4)})`;
}
