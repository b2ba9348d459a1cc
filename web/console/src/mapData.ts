// What the console's map shows besides the districts: cameras (from the console's camera
// list), sites (enterprises with a position) and open incidents, each read from what the
// server returns for the session — the server applies the user's jurisdiction, so the map
// shows nothing the session may not see. Positions are WGS-84 (see geo.ts).
import { api, Unauthorized, type Camera, type Reachability } from './api';
import { isLonLat, type LonLat } from './geo';

/** The site categories (devices' `SiteCategory`), in the legend's order. */
export const CATEGORIES = [
  'gas_station',
  'oil_depot',
  'tailings_pond',
  'fireworks_warehouse',
  'fireworks_retail',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** A category the map knows, `other` for anything else. */
export function categoryOf(value: unknown): Category {
  return (CATEGORIES as readonly unknown[]).includes(value) ? (value as Category) : 'other';
}

/** Fill colour per category (distinct hues, legible on the dark map). */
export const CATEGORY_COLOURS: Record<Category, string> = {
  gas_station: '#58a6ff',
  oil_depot: '#a371f7',
  tailings_pond: '#3fb9a0',
  fireworks_warehouse: '#f0883e',
  fireworks_retail: '#f778ba',
  other: '#c9d1d9',
};

/**
 * Symbol per category: an SVG path centred on (0, 0) with a radius of about 1 (scaled
 * by the marker size), so that a category reads by shape as well as by colour.
 */
export const CATEGORY_SYMBOLS: Record<Category, string> = {
  // circle
  gas_station: 'M1 0A1 1 0 1 1 -1 0A1 1 0 1 1 1 0Z',
  // square
  oil_depot: 'M-0.85 -0.85H0.85V0.85H-0.85Z',
  // triangle pointing down
  tailings_pond: 'M-1 -0.75H1L0 1Z',
  // diamond
  fireworks_warehouse: 'M0 -1.1L1.1 0L0 1.1L-1.1 0Z',
  // triangle pointing up
  fireworks_retail: 'M0 -1.05L1 0.8H-1Z',
  // hexagon
  other: 'M1 0L0.5 0.87L-0.5 0.87L-1 0L-0.5 -0.87L0.5 -0.87Z',
};

/** Ring colour per reachability state. */
export const STATE_COLOURS: Record<Reachability, string> = {
  online: '#3fb950',
  offline: '#f85149',
  unknown: '#8b949e',
};

/** Marker colour per incident grade (the incident panel's grade colours). */
export const GRADE_COLOURS: Record<string, string> = {
  general: '#d29922',
  larger: '#9e6a03',
  major: '#bd561d',
  especially_serious: '#da3633',
};

/** A camera with a position, as the map draws it. */
export interface CameraMarker {
  camera: Camera;
  at: LonLat;
  category: Category;
  state: Reachability;
}

/** The camera's WGS-84 position, when the server sent one (`position: {lon, lat}`). */
export function cameraPosition(camera: Camera): LonLat | null {
  const p = (camera as Camera & { position?: unknown }).position;
  return isLonLat(p) ? [p.lon, p.lat] : null;
}

/** The cameras that have a position, with their category and state. */
export function cameraMarkers(cameras: Camera[]): CameraMarker[] {
  const markers: CameraMarker[] = [];
  for (const camera of cameras) {
    const at = cameraPosition(camera);
    if (!at) continue;
    const state: Reachability = camera.enabled ? (camera.health?.state ?? 'unknown') : 'unknown';
    markers.push({ camera, at, category: categoryOf(camera.category), state });
  }
  return markers;
}

/** A site (an enterprise of the ledger) with a position. */
export interface SiteMarker {
  id: string;
  name: string;
  category: Category;
  at: LonLat;
}

/**
 * The enterprises the session may read that have a position (`GET /api/v1/enterprises`).
 * A role that may not read the ledger gets none (403 is not an error for the map).
 */
export async function loadSites(): Promise<SiteMarker[]> {
  const r = await api('/api/v1/enterprises?limit=1000');
  if (r.status === 403 || r.status === 404) return [];
  if (!r.ok) throw new Error(`GET /api/v1/enterprises: ${r.status}`);
  const answer = (await r.json()) as unknown;
  const items = (Array.isArray(answer) ? answer : ((answer as { items?: unknown[] }).items ?? [])) as {
    ledger_id?: unknown;
    name?: unknown;
    category?: unknown;
    position?: unknown;
  }[];
  const sites: SiteMarker[] = [];
  for (const e of items) {
    if (typeof e.ledger_id !== 'string' || !isLonLat(e.position)) continue;
    sites.push({
      id: e.ledger_id,
      name: typeof e.name === 'string' ? e.name : e.ledger_id,
      category: categoryOf(e.category),
      at: [e.position.lon, e.position.lat],
    });
  }
  return sites;
}

/** An open incident with a position. */
export interface IncidentMarker {
  id: string;
  title: string;
  grade: string;
  state: string;
  at: LonLat;
}

/** The open incidents the session may see that have a position (`GET /api/v1/incidents?open=true`). */
export async function loadIncidents(): Promise<IncidentMarker[]> {
  const markers: IncidentMarker[] = [];
  const limit = 200;
  for (let offset = 0; ; offset += limit) {
    const r = await api(`/api/v1/incidents?open=true&limit=${limit}&offset=${offset}`);
    if (!r.ok) throw new Error(`GET /api/v1/incidents: ${r.status}`);
    const page = (await r.json()) as {
      items: { id: string; title: string; state: string; grading?: { grade?: string }; location?: { position?: unknown } }[];
      total: number;
    };
    for (const i of page.items) {
      const p = i.location?.position;
      if (!isLonLat(p)) continue;
      markers.push({ id: i.id, title: i.title, grade: i.grading?.grade ?? 'general', state: i.state, at: [p.lon, p.lat] });
    }
    if (page.items.length === 0 || offset + page.items.length >= page.total) return markers;
  }
}

export { Unauthorized };
