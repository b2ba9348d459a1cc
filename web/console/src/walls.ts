// The video-wall API as the console uses it (web/src/walls.rs): walls and their monitors,
// what a monitor shows, monitor commands, scenes and tours; the conversion between the
// console's grid (layouts.ts: a layout id and a camera id per tile) and the server's
// layouts (a grid of rows × columns with tiles spanning cells); and the console-wide
// choice of the target monitor, shared by the wall panel, the incident panel and the
// command palette.
//
// Every call goes through `api()` (the session cookie; a 401 shows the login form) and
// throws a [`WallApiError`] carrying the server's error code and message on any other error.
import { ref } from 'vue';
import { api, type Camera } from './api';
import { gridCells, LAYOUT_IDS, LAYOUTS, MAX_TILES, tileBounds, type LayoutId } from './layouts';

/** One tile of a server layout: its top-left cell (0-based) and its span in cells. */
export interface GridTile {
  row: number;
  col: number;
  row_span: number;
  col_span: number;
}

/** A server layout: `rows` × `cols` cells; tiles numbered by their order. */
export interface GridLayout {
  rows: number;
  cols: number;
  tiles: GridTile[];
}

/** Which stream a tile asks for: `auto` is main for a large tile, sub for the others. */
export type Profile = 'main' | 'sub' | 'auto';

export type TileContent =
  | { kind: 'empty' }
  | { kind: 'camera'; camera_id: string; profile?: Profile };

/** What put a monitor's contents there. */
export type Source =
  | { kind: 'manual' }
  | { kind: 'scene'; scene_id: string }
  | { kind: 'incident'; incident_id: string }
  | { kind: 'tour'; tour_id: string; step: number; started_at: number };

/** What a monitor shows (the server's `View`). */
export interface View {
  layout: GridLayout;
  tiles: TileContent[];
  source: Source;
}

/** A monitor's state: what it shows and what it showed before the last incident push. */
export interface MonitorState extends View {
  previous?: View | null;
}

export interface Monitor {
  wall_id: string;
  id: string;
  name: string;
  /** Position on the wall, from 0. */
  position: number;
  state: MonitorState;
  /** Counts changes of `state`; the `If-Match` token of commands. */
  revision: number;
  /** Unix ms. */
  updated_at: number;
  updated_by: string;
}

/** Where a wall, scene or tour belongs (all unset: the city). */
export interface WallScope {
  district?: string | null;
  street?: string | null;
  enterprise_id?: string | null;
}

export interface Wall {
  id: string;
  name: string;
  scope: WallScope;
  monitors: Monitor[];
  revision: number;
}

/** One tile's stream as a monitor plays it. */
export interface TileStream {
  tile: number;
  camera_id: string;
  profile: 'main' | 'sub';
  /** `cam/<camera>/<profile>`. */
  path: string;
}

/** Where a running tour is (all times Unix ms, the server's clock). */
export interface TourStep {
  step_index: number;
  scene_id: string;
  shown_at: number;
  switch_at?: number | null;
  prefetch_at?: number | null;
  next_index?: number | null;
  next_scene_id?: string | null;
  ends_at?: number | null;
  ended: boolean;
}

/** `GET /walls/{wall}/monitors/{monitor}`: the monitor, its streams and its tour. */
export interface MonitorView extends Monitor {
  streams: TileStream[];
  tour?: TourStep | null;
  next_streams: TileStream[];
  served_at: number;
}

export interface Scene {
  id: string;
  name: string;
  scope: WallScope;
  layout: GridLayout;
  /** One content per tile of `layout`. */
  tiles: TileContent[];
  revision: number;
}

export interface SceneInput {
  name: string;
  scope?: WallScope;
  /** A named layout (its tile count) or a grid. */
  layout: number | GridLayout;
  tiles: TileContent[];
}

export interface TourScene {
  scene_id: string;
  /** How long the scene stays, ms (3 000 to 3 600 000). */
  dwell_ms: number;
}

export interface Tour {
  id: string;
  name: string;
  scope: WallScope;
  steps: TourScene[];
  loop: boolean;
  revision: number;
}

export interface TourInput {
  name: string;
  scope?: WallScope;
  steps: TourScene[];
  loop: boolean;
}

/** The shortest dwell time of a tour step the server accepts, ms. */
export const MIN_DWELL_MS = 3000;
/** The longest, ms. */
export const MAX_DWELL_MS = 3_600_000;

/**
 * A command to a monitor (the server's `MonitorCommand`). For `show_incident` the console
 * sends only the incident: the server picks its cameras.
 */
export type MonitorCommand =
  | { command: 'show_camera'; tile: number; camera_id: string; profile?: Profile }
  | { command: 'clear_tile'; tile: number }
  | { command: 'set_layout'; layout: number | GridLayout }
  | { command: 'show_grid'; layout: number | GridLayout; tiles: TileContent[] }
  | { command: 'apply_scene'; scene_id: string }
  | { command: 'show_incident'; incident_id: string }
  | { command: 'restore' }
  | { command: 'start_tour'; tour_id: string }
  | { command: 'advance_tour'; tour_id: string; step: number }
  | { command: 'stop_tour' };

/** A refused call: the HTTP status, the server's error `code` (e.g. `nothing_to_restore`). */
export class WallApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await api(url, init);
  if (!r.ok) {
    const answer = (await r.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new WallApiError(r.status, answer.error ?? String(r.status), answer.message ?? `${r.status} ${r.statusText}`);
  }
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

function send<T>(method: string, url: string, body: unknown): Promise<T> {
  return call<T>(url, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const enc = encodeURIComponent;

/** The walls the session sees, with their monitors. */
export async function listWalls(): Promise<Wall[]> {
  return (await call<{ items: Wall[] }>('/api/v1/walls')).items;
}

/** A monitor, what it shows, its streams and (during a tour) where the tour is. */
export function getMonitor(wall: string, monitor: string): Promise<MonitorView> {
  return call<MonitorView>(`/api/v1/walls/${enc(wall)}/monitors/${enc(monitor)}`);
}

/** Sends `command` to a monitor (needs `push_to_wall`); the monitor after it. */
export function command(wall: string, monitor: string, cmd: MonitorCommand): Promise<Monitor> {
  return send<Monitor>('POST', `/api/v1/walls/${enc(wall)}/monitors/${enc(monitor)}/commands`, cmd);
}

/** A kiosk token for a monitor page, and the page it opens (`<page>#token=<token>`). */
export interface KioskToken {
  token: string;
  path: string;
  /** Unix ms. */
  expires_at: number;
  page: string;
}

/**
 * Issues a kiosk token for the monitor (needs `issue_stream_token`; audited by the
 * server): the link a wall PC opens to play the monitor without an operator session. The
 * server's longest lifetime (`security.stream_token_max_ttl`) when `ttlS` is not given;
 * the monitor page renews it by itself until the monitor's links are revoked.
 */
export function kioskToken(wall: string, monitor: string, ttlS?: number): Promise<KioskToken> {
  return send<KioskToken>(
    'POST',
    `/api/v1/walls/${enc(wall)}/monitors/${enc(monitor)}/kiosk-token`,
    ttlS === undefined ? {} : { ttl_s: ttlS },
  );
}

/**
 * Revokes every kiosk token (monitor page link) of the monitor issued so far, renewed
 * ones included (needs `issue_stream_token`; audited): their pages stop within seconds.
 * Links made afterwards work.
 */
export function revokeKioskTokens(wall: string, monitor: string): Promise<void> {
  return call<void>(`/api/v1/walls/${enc(wall)}/monitors/${enc(monitor)}/kiosk-tokens`, { method: 'DELETE' });
}

/** The wall's event stream URL (server-sent events; the session cookie authorises it). */
export function eventsUrl(wall: string): string {
  return `/api/v1/walls/${enc(wall)}/events`;
}

/** The scenes the session sees, by name. */
export async function listScenes(): Promise<Scene[]> {
  return (await call<{ items: Scene[] }>('/api/v1/scenes')).items;
}

export function createScene(input: SceneInput): Promise<Scene> {
  return send<Scene>('POST', '/api/v1/scenes', input);
}

export function deleteScene(id: string): Promise<void> {
  return call<void>(`/api/v1/scenes/${enc(id)}`, { method: 'DELETE' });
}

/** The tours the session sees. */
export async function listTours(): Promise<Tour[]> {
  return (await call<{ items: Tour[] }>('/api/v1/tours')).items;
}

export function createTour(input: TourInput): Promise<Tour> {
  return send<Tour>('POST', '/api/v1/tours', input);
}

export function deleteTour(id: string): Promise<void> {
  return call<void>(`/api/v1/tours/${enc(id)}`, { method: 'DELETE' });
}

// ---------------------------------------------------------------------------------------
// Roles

/** The roles that may push to a wall and write scenes and tours (`Role::may(PushToWall)`). */
const PUSH_ROLES = ['operator', 'commander', 'admin'];

/** Whether a user of `role` may send monitor commands and write scenes and tours. */
export function mayPush(role: string | undefined): boolean {
  return role !== undefined && PUSH_ROLES.includes(role);
}

// ---------------------------------------------------------------------------------------
// The console's grid ↔ the server's layouts

/** The server layout of console layout `id` (the same tile order: the server's named layouts). */
export function gridOf(id: LayoutId): GridLayout {
  const layout = LAYOUTS[id];
  const cells = gridCells(layout);
  const tiles: GridTile[] = [];
  for (let index = 0; index < layout.count; index++) {
    const { top, left, bottom, right } = tileBounds(cells, index);
    tiles.push({ row: top, col: left, row_span: bottom - top + 1, col_span: right - left + 1 });
  }
  return { rows: layout.columns, cols: layout.columns, tiles };
}

/** Whether two server layouts are the same grid with the same tiles in the same order. */
export function sameGrid(a: GridLayout, b: GridLayout): boolean {
  return (
    a.rows === b.rows &&
    a.cols === b.cols &&
    a.tiles.length === b.tiles.length &&
    a.tiles.every((t, i) => {
      const u = b.tiles[i]!;
      return t.row === u.row && t.col === u.col && t.row_span === u.row_span && t.col_span === u.col_span;
    })
  );
}

/**
 * The console layout showing server layout `grid`: the same named layout when it is one;
 * otherwise the smallest console layout with room for its tiles (the contents keep their
 * tile order).
 */
export function layoutIdOf(grid: GridLayout): LayoutId {
  const same = LAYOUT_IDS.find((id) => sameGrid(gridOf(id), grid));
  if (same !== undefined) return same;
  return LAYOUT_IDS.find((id) => LAYOUTS[id].count >= grid.tiles.length) ?? 16;
}

/**
 * The profile a saved tile asks for: `auto` (the monitor picks main for large tiles, sub
 * for small ones) when the camera has a sub stream, else `main` (the only stream there is).
 */
export function profileFor(camera: Camera | undefined): Profile {
  return camera && !camera.paths.includes(`cam/${camera.id}/sub`) ? 'main' : 'auto';
}

/**
 * The console's grid as a scene: layout `id` (named, by its tile count) and the first
 * `count` slots as tiles (`byId` gives each camera's streams, for [`profileFor`]).
 */
export function sceneOfGrid(
  name: string,
  id: LayoutId,
  slots: (string | null)[],
  byId: Map<string, Camera>,
): SceneInput {
  const tiles: TileContent[] = slots.slice(0, LAYOUTS[id].count).map((cam) =>
    cam ? { kind: 'camera', camera_id: cam, profile: profileFor(byId.get(cam)) } : { kind: 'empty' },
  );
  return { name, layout: id, tiles };
}

/** A view (a scene, a monitor) as the console's grid: a layout id and 16 slots. */
export function gridOfView(view: { layout: GridLayout; tiles: TileContent[] }): {
  layout: LayoutId;
  slots: (string | null)[];
} {
  const layout = layoutIdOf(view.layout);
  const slots = Array.from({ length: MAX_TILES }, (_, i) => {
    const tile = i < LAYOUTS[layout].count ? view.tiles[i] : undefined;
    return tile && tile.kind === 'camera' ? tile.camera_id : null;
  });
  return { layout, slots };
}

// ---------------------------------------------------------------------------------------
// Shared state

/** A monitor of a wall. */
export interface MonitorRef {
  wall: string;
  monitor: string;
  /** The monitor's name, for labels. */
  name: string;
}

/**
 * The monitor the operator chose in the wall panel (the target of pushes from the
 * incident panel and the palette); `null` until one is chosen.
 */
export const targetMonitor = ref<MonitorRef | null>(null);
/** Whether the session's role may push to walls (set by the wall panel from `auth/me`). */
export const canPush = ref(false);
/** The scenes the session sees, kept by the wall panel (the palette searches them). */
export const knownScenes = ref<Scene[]>([]);
/** Whether the target monitor has something to restore (after an incident push). */
export const restorable = ref(false);

// ---------------------------------------------------------------------------------------
// The session

/** The session's jurisdiction (`GET /api/v1/auth/me`). */
export type Jurisdiction =
  | { level: 'city' }
  | { level: 'district'; district: string }
  | { level: 'street'; district: string; street: string }
  | { level: 'enterprise'; enterprise_id: string };

/** The session's user as the wall panel needs it. */
export interface SessionUser {
  username: string;
  role: string;
  jurisdiction: Jurisdiction;
}

export function sessionUser(): Promise<SessionUser> {
  return call<SessionUser>('/api/v1/auth/me');
}

/**
 * The scope of the scenes and tours the session creates: its own jurisdiction (the server
 * refuses a scope outside it; the city's users' scenes belong to the city).
 */
export function scopeOf(j: Jurisdiction): WallScope {
  switch (j.level) {
    case 'city':
      return {};
    case 'district':
      return { district: j.district };
    case 'street':
      return { district: j.district, street: j.street };
    case 'enterprise':
      return { enterprise_id: j.enterprise_id };
  }
}
