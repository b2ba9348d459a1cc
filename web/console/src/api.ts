// The server's API as the console uses it. The session is the HttpOnly cookie that
// POST /api/v1/auth/login sets; an answer of 401 anywhere sends the console to its login
// form ([`onUnauthorized`]).

export interface User {
  username: string;
  display_name?: string;
  role?: string;
}

export type Reachability = 'online' | 'offline' | 'unknown';

export interface Camera {
  id: string;
  name: string;
  category: string;
  enterprise_id?: string | null;
  division: { district: string; street?: string | null };
  enabled: boolean;
  /**
   * The camera's fixed number (1..=99999, unique in the inventory; it never changes when
   * other cameras come or go): typed on the video wall, it puts the camera on the focused tile.
   */
  number: number;
  health?: { state: Reachability; since_ms: number; last_error?: string | null } | null;
  /** Hub paths: `cam/<id>/main` and, when the camera has one, `cam/<id>/sub`. */
  paths: string[];
}

/** Thrown after a 401 (the console then shows its login form). */
export class Unauthorized extends Error {
  constructor() {
    super('not logged in');
  }
}

let unauthorized: () => void = () => {};

/** What to do when the session is gone. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

/** Tells the console the session is gone (also for WHEP's 401). */
export function sessionEnded(): void {
  unauthorized();
}

/** fetch() with the session; a 401 shows the login form and throws [`Unauthorized`]. */
export async function api(url: string, init?: RequestInit): Promise<Response> {
  const r = await fetch(url, { credentials: 'same-origin', ...init });
  if (r.status === 401) {
    unauthorized();
    throw new Unauthorized();
  }
  return r;
}

async function json<T>(url: string): Promise<T> {
  const r = await api(url);
  if (!r.ok) {
    const answer = (await r.json().catch(() => ({}))) as { message?: string };
    throw new Error(answer.message ?? `${r.status}`);
  }
  return (await r.json()) as T;
}

export function me(): Promise<User> {
  return json<User>('/api/v1/auth/me');
}

export async function logout(): Promise<void> {
  await fetch('/api/v1/auth/logout', { method: 'POST' }).catch(() => {});
}

/** Every camera the session may see (all pages). */
export async function cameras(): Promise<Camera[]> {
  const all: Camera[] = [];
  const limit = 1000;
  for (let offset = 0; ; offset += limit) {
    const page = await json<{ items: Camera[]; total: number }>(
      `/api/v1/cameras?limit=${limit}&offset=${offset}`,
    );
    all.push(...page.items);
    if (page.items.length === 0 || all.length >= page.total) return all;
  }
}

/** Enterprise ledger ids → names (best effort: an empty map when not readable). */
export async function enterpriseNames(): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  try {
    const answer = await json<unknown>('/api/v1/enterprises?limit=1000');
    const items = (Array.isArray(answer) ? answer : ((answer as { items?: unknown[] }).items ?? [])) as {
      ledger_id?: string;
      name?: string;
    }[];
    for (const e of items) if (e.ledger_id && e.name) names.set(e.ledger_id, e.name);
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
  }
  return names;
}

/** The path a tile plays: main, or sub when asked for and the camera has one. */
export function pathOf(camera: Camera, wantMain: boolean): string {
  const main = `cam/${camera.id}/main`;
  const sub = `cam/${camera.id}/sub`;
  if (!wantMain && camera.paths.includes(sub)) return sub;
  return camera.paths.includes(main) || camera.paths.length === 0 ? main : camera.paths[0];
}

export type ReportStatus = 'pending' | 'overdue' | 'made' | 'made_late';

export interface ReportClock {
  to: string;
  due_at: number;
  /** `due_at - now` while owed (negative once overdue); null once made. */
  remaining_ms?: number | null;
  overdue: boolean;
  status: ReportStatus;
}

export interface Incident {
  id: string;
  title: string;
  incident_type: string;
  state: string;
  grading: { grade: string };
  location: { address?: string | null; district?: string | null; street?: string | null };
  enterprise_id?: string | null;
  report_clocks: ReportClock[];
}

/** The open incidents the session may see, most recently opened first. */
export async function openIncidents(): Promise<Incident[]> {
  const page = await json<{ items: Incident[]; total: number }>('/api/v1/incidents?open=true&limit=50');
  return page.items;
}

export interface CameraRef {
  id: string;
  name: string;
  enterprise_id?: string | null;
  enabled: boolean;
  distance_m?: number | null;
}

/** The incident's enterprise's cameras and the nearby ones (the caller's jurisdiction only). */
export function incidentCameras(id: string): Promise<{ enterprise: CameraRef[]; nearby: CameraRef[] }> {
  return json(`/api/v1/incidents/${encodeURIComponent(id)}/cameras`);
}
