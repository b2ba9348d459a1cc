// Geometry of the console's offline map: a local equirectangular projection and the
// district boundary asset's loader. No map library, no tiles: the map is SVG drawn from
// the positions the server returns and from one GeoJSON file shipped with the console.
//
// Every position in Watchpost (cameras, sites, incidents) is WGS-84 longitude/latitude in
// decimal degrees (devices/src/inventory/model.rs, command/src/domain/incident.rs), and
// so must the boundary asset be: a GCJ-02 (Chinese "Mars") boundary would sit several
// hundred metres off the markers.

/** Longitude, latitude: WGS-84 decimal degrees, east and north positive. */
export type LonLat = readonly [number, number];

/** A position in projected map units (1 unit = 1 degree of latitude; y grows southwards). */
export interface Point {
  x: number;
  y: number;
}

/** [west, south, east, north], WGS-84 degrees. */
export type BBox = [number, number, number, number];

/**
 * The extent the map opens on when it has nothing to frame: Beijing municipality's
 * bounding box (about 115.42°E–117.51°E, 39.44°N–41.06°N), rounded outwards.
 */
export const BEIJING_EXTENT: BBox = [115.4, 39.4, 117.55, 41.1];

/** The latitude (degrees) whose scale the projection keeps true: Beijing's, 39.9°N. */
export const REFERENCE_LAT = 39.9;

const COS_REF = Math.cos((REFERENCE_LAT * Math.PI) / 180);

/**
 * Equirectangular projection with longitudes scaled by cos(39.9°): over Beijing's
 * ~180 km the east–west distortion stays under 2 %. Units: degrees of latitude.
 */
export function project([lon, lat]: LonLat): Point {
  return { x: lon * COS_REF, y: -lat };
}

/** The inverse of [`project`]. */
export function unproject({ x, y }: Point): LonLat {
  return [x / COS_REF, -y];
}

/** Whether `p` is a finite WGS-84 position (lon -180..=180, lat -90..=90). */
export function isLonLat(p: unknown): p is { lon: number; lat: number } {
  if (!p || typeof p !== 'object') return false;
  const { lon, lat } = p as { lon?: unknown; lat?: unknown };
  return (
    typeof lon === 'number' && typeof lat === 'number' && Number.isFinite(lon) && Number.isFinite(lat) &&
    Math.abs(lon) <= 180 && Math.abs(lat) <= 90
  );
}

/** One district of the boundary asset, ready to draw. */
export interface District {
  /** Stable id (the feature's `id` or `code` property, else its index). */
  id: string;
  /** Chinese name (e.g. 朝阳区). */
  nameZh: string;
  /** English or pinyin name (e.g. Chaoyang); the Chinese one when the asset has none. */
  nameEn: string;
  /** Rings in projected units: outer rings and holes (drawn with the even-odd rule). */
  rings: Point[][];
  /** Bounding box, WGS-84 degrees. */
  bbox: BBox;
  /** Where the name is drawn: the centre of the largest ring's bounding box, projected. */
  label: Point;
}

/** What the boundary asset gave: districts, or none and why. */
export interface Boundaries {
  districts: District[];
  /** The attribution the asset's licence requires (shown on the map), or empty. */
  attribution: string;
  /** Why there are no districts, when there are none (the asset's `watchpost.reason`). */
  missing: string;
}

/**
 * Where the console serves the boundary asset: web/console/public/map/ is copied into
 * dist/map/ by Vite and served under the console's base, /console/ (vite.config.ts).
 */
export const BOUNDARY_URL = '/console/map/beijing-districts.geojson';

function ringsOf(geometry: unknown): LonLat[][] {
  const g = geometry as { type?: string; coordinates?: unknown } | null;
  const valid = (ring: unknown): ring is LonLat[] =>
    Array.isArray(ring) && ring.length >= 4 &&
    ring.every((p) => Array.isArray(p) && isLonLat({ lon: p[0], lat: p[1] }));
  const polygons: unknown[] =
    g?.type === 'Polygon' ? [g.coordinates] : g?.type === 'MultiPolygon' && Array.isArray(g.coordinates) ? g.coordinates : [];
  const rings: LonLat[][] = [];
  for (const polygon of polygons) {
    if (!Array.isArray(polygon)) continue;
    for (const ring of polygon) if (valid(ring)) rings.push(ring);
  }
  return rings;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * Reads a GeoJSON FeatureCollection of districts (Polygon or MultiPolygon features, WGS-84).
 * Names come from the properties `name_zh` / `name:zh` / `name` and `name_en` / `name:en`
 * / `shapeName`. Features without a valid ring are skipped. The collection's foreign
 * member `watchpost` may carry `attribution` and, for an asset without features,
 * `reason`. Throws on input that is not a FeatureCollection.
 */
export function parseBoundaries(input: unknown): Boundaries {
  const fc = input as { type?: unknown; features?: unknown; watchpost?: { attribution?: unknown; reason?: unknown } };
  if (!fc || fc.type !== 'FeatureCollection' || !Array.isArray(fc.features)) {
    throw new Error('the boundary file is not a GeoJSON FeatureCollection');
  }
  const districts: District[] = [];
  fc.features.forEach((feature: unknown, index: number) => {
    const f = feature as { id?: unknown; properties?: Record<string, unknown> | null; geometry?: unknown };
    const rings = ringsOf(f?.geometry);
    if (rings.length === 0) return;
    const props = f.properties ?? {};
    const nameZh = text(props['name_zh']) || text(props['name:zh']) || text(props['name']);
    const nameEn = text(props['name_en']) || text(props['name:en']) || text(props['shapeName']) || nameZh;
    const bbox: BBox = [Infinity, Infinity, -Infinity, -Infinity];
    let largest: BBox = bbox;
    let largestArea = -1;
    for (const ring of rings) {
      const b: BBox = [Infinity, Infinity, -Infinity, -Infinity];
      for (const [lon, lat] of ring) {
        b[0] = Math.min(b[0], lon);
        b[1] = Math.min(b[1], lat);
        b[2] = Math.max(b[2], lon);
        b[3] = Math.max(b[3], lat);
      }
      const area = (b[2] - b[0]) * (b[3] - b[1]);
      if (area > largestArea) [largest, largestArea] = [b, area];
      bbox[0] = Math.min(bbox[0], b[0]);
      bbox[1] = Math.min(bbox[1], b[1]);
      bbox[2] = Math.max(bbox[2], b[2]);
      bbox[3] = Math.max(bbox[3], b[3]);
    }
    districts.push({
      id: text(f.id) || String(f.id ?? '') || text(props['code']) || String(index),
      nameZh: nameZh || nameEn || String(index),
      nameEn: nameEn || String(index),
      rings: rings.map((ring) => ring.map(project)),
      bbox,
      label: project([(largest[0] + largest[2]) / 2, (largest[1] + largest[3]) / 2]),
    });
  });
  return {
    districts,
    attribution: text(fc.watchpost?.attribution),
    missing: districts.length === 0 ? text(fc.watchpost?.reason) || 'no district in the boundary file' : '',
  };
}

/** Fetches and reads the shipped boundary asset ([`BOUNDARY_URL`]). */
export async function loadBoundaries(url = BOUNDARY_URL): Promise<Boundaries> {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return parseBoundaries(await r.json());
}

/** An SVG path (`d`) of the rings, in projected units. */
export function pathOf(rings: Point[][]): string {
  return rings
    .map((ring) => ring.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(5)} ${p.y.toFixed(5)}`).join('') + 'Z')
    .join('');
}

/** Whether the point lies inside the bounding box (inclusive). */
export function inBBox([lon, lat]: LonLat, [w, s, e, n]: BBox): boolean {
  return lon >= w && lon <= e && lat >= s && lat <= n;
}

/** A district's seat: where its name goes on the map when there are no boundaries. */
export interface Seat {
  /** The district's administrative division code (GB/T 2260, e.g. 110105). */
  id: string;
  nameZh: string;
  nameEn: string;
  at: LonLat;
}

/** The district seats and the attribution their source requires. */
export interface Seats {
  seats: Seat[];
  attribution: string;
}

/** The seats asset (GeoNames points, see public/map/README.md). */
export const SEATS_URL = '/console/map/beijing-district-seats.json';

/**
 * Reads the seats asset: `{attribution, seats: [{id, name_zh, name_en, lon, lat}]}`;
 * entries without a name or a valid WGS-84 position are skipped. Throws on anything else.
 */
export function parseSeats(input: unknown): Seats {
  const doc = input as { attribution?: unknown; seats?: unknown } | null;
  if (!doc || !Array.isArray(doc.seats)) throw new Error('not a district seats document');
  const seats: Seat[] = [];
  for (const s of doc.seats as Record<string, unknown>[]) {
    const nameZh = text(s?.name_zh);
    if (!nameZh || !isLonLat({ lon: s.lon, lat: s.lat })) continue;
    seats.push({
      id: text(s.id) || nameZh,
      nameZh,
      nameEn: text(s.name_en) || nameZh,
      at: [s.lon as number, s.lat as number],
    });
  }
  return { seats, attribution: text(doc.attribution) };
}

/** Fetches and reads the seats asset ([`SEATS_URL`]). */
export async function loadSeats(url = SEATS_URL): Promise<Seats> {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return parseSeats(await r.json());
}
