// The signed-in operator's console settings (grid, favourite cameras, preferences), kept
// on the server (GET/PUT /api/v1/auth/me/console) so that they follow the operator from
// browser to browser. localStorage keeps a copy only as a fallback for when the server
// cannot be reached (the console then starts from the copy and saves again later).
//
// Changes are saved whole, debounced (SAVE_DELAY_MS), with `If-Match: "<revision>"`: when
// another console of the same user saved in between the server answers 412 and the
// console reloads the server's document (the other console's save wins; nothing is
// merged). `window.consoleSettings` exposes the state for tests.
//
// While the server is unreachable, changes are kept in the local copy and saved when it
// answers again; a console that never reached the server saves without a precondition.
//
// `low_latency`, `stats_overlay` and `language` are bound to the tile toolbar's switches
// and the language switch by preferences.ts.
import { ref } from 'vue';
import { api, Unauthorized } from './api';

export interface ConsoleGrid {
  /** Tile count: 1, 4, 6, 8, 9 or 16. */
  layout: number;
  /** Camera id per tile, or null; at most 16. */
  slots: (string | null)[];
}

export interface ConsoleSettings {
  grid: ConsoleGrid;
  /** Favourite camera ids, in order; at most MAX_FAVOURITES, no duplicates. */
  favourites: string[];
  low_latency: boolean;
  stats_overlay: boolean;
  language?: 'zh-CN' | 'en';
}

/** How the settings are held: from the server, or from the local copy while it is unreachable. */
export type SettingsSource = 'loading' | 'server' | 'local';

export const MAX_FAVOURITES = 200;
const URL = '/api/v1/auth/me/console';
const CACHE_KEY = 'watchpost.console.settings';
/** The grid as kept before the settings moved to the server (read once, as a fallback). */
const LEGACY_GRID_KEY = 'watchpost.console.grid';
export const SAVE_DELAY_MS = 500;
/** After a failed save (server unreachable), try again this much later. */
const RETRY_MS = 5000;

export function defaults(): ConsoleSettings {
  return { grid: { layout: 4, slots: [] }, favourites: [], low_latency: false, stats_overlay: false };
}

/** The document `value` as far as it is well-formed (anything else: the defaults). */
function normalise(value: unknown): ConsoleSettings {
  const s = defaults();
  if (!value || typeof value !== 'object') return s;
  const v = value as Record<string, unknown>;
  const grid = v.grid as Record<string, unknown> | undefined;
  if (grid && typeof grid.layout === 'number') s.grid.layout = grid.layout;
  if (grid && Array.isArray(grid.slots)) {
    s.grid.slots = grid.slots.slice(0, 16).map((x) => (typeof x === 'string' ? x : null));
  }
  if (Array.isArray(v.favourites)) {
    s.favourites = [...new Set(v.favourites.filter((x): x is string => typeof x === 'string'))].slice(
      0,
      MAX_FAVOURITES,
    );
  }
  s.low_latency = v.low_latency === true;
  s.stats_overlay = v.stats_overlay === true;
  if (v.language === 'zh-CN' || v.language === 'en') s.language = v.language;
  return s;
}

function readCache(): ConsoleSettings {
  try {
    const cached = localStorage.getItem(CACHE_KEY);
    if (cached) return normalise(JSON.parse(cached));
    const legacy = JSON.parse(localStorage.getItem(LEGACY_GRID_KEY) ?? 'null') as
      | { layout?: unknown; slots?: unknown }
      | null;
    if (legacy) return normalise({ grid: legacy });
  } catch {
    // nothing kept
  }
  return defaults();
}

function writeCache(s: ConsoleSettings): void {
  try {
    localStorage.setItem(CACHE_KEY, JSON.stringify(s));
  } catch {
    // not kept
  }
}

/** The settings in force (replace it through [`updateSettings`] so that it is saved). */
export const settings = ref<ConsoleSettings>(readCache());
export const source = ref<SettingsSource>('loading');
/** Why the last save failed ('' when it did not). */
export const saveError = ref('');
/** The server's revision of what `settings` is based on; null while unknown. */
let revision: number | null = null;
let saveTimer: ReturnType<typeof setTimeout> | undefined;
let saving: Promise<void> | null = null;
/** Whether `settings` has changes the server has not acknowledged. */
let dirty = false;
const listeners = new Set<(s: ConsoleSettings) => void>();

declare global {
  interface Window {
    consoleSettings: { source: SettingsSource; revision: number | null; pending: boolean; error: string };
  }
}
function expose(): void {
  window.consoleSettings = {
    source: source.value,
    revision,
    pending: dirty || saving !== null,
    error: saveError.value,
  };
}
expose();

/** Calls `listener` with the settings whenever they are replaced from outside (load, reload after a conflict). */
export function onSettingsLoaded(listener: (s: ConsoleSettings) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function replace(s: ConsoleSettings): void {
  settings.value = s;
  writeCache(s);
  for (const listener of listeners) listener(s);
}

function etagRevision(r: Response): number | null {
  const n = Number((r.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, ''));
  return Number.isInteger(n) ? n : null;
}

/**
 * Loads the settings from the server (after login). When the server cannot be reached,
 * keeps the local copy and marks the settings `local`; a 401 propagates.
 */
export async function loadSettings(): Promise<void> {
  try {
    const r = await api(URL, { headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error(`${r.status}`);
    const body: unknown = await r.json();
    revision = etagRevision(r);
    dirty = false;
    source.value = 'server';
    replace(normalise(body));
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    source.value = 'local';
  } finally {
    expose();
  }
}

/**
 * Changes the settings with `change` (on a copy) and saves them soon. A change that
 * leaves the document as it was saves nothing.
 */
export function updateSettings(change: (s: ConsoleSettings) => void): void {
  const next = normalise(JSON.parse(JSON.stringify(settings.value)));
  change(next);
  if (JSON.stringify(next) === JSON.stringify(settings.value)) return;
  settings.value = next;
  writeCache(next);
  dirty = true;
  scheduleSave(SAVE_DELAY_MS);
}

function scheduleSave(delay: number): void {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => void save(), delay);
  expose();
}

async function save(): Promise<void> {
  if (source.value === 'loading') {
    // Not before the server's document is known (its revision is the precondition).
    scheduleSave(SAVE_DELAY_MS);
    return;
  }
  if (saving) {
    // One save at a time: the next one starts after this one (with the latest document).
    await saving;
  }
  if (!dirty) return;
  saving = (async () => {
    const body = JSON.stringify(settings.value);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (revision !== null) headers['if-match'] = `"${revision}"`;
    dirty = false;
    try {
      const r = await api(URL, { method: 'PUT', headers, body });
      if (r.ok) {
        revision = etagRevision(r);
        source.value = 'server';
        saveError.value = '';
      } else if (r.status === 412) {
        // Another console of this user saved first: take what the server has.
        saveError.value = '';
        await loadSettings();
      } else {
        const answer = (await r.json().catch(() => ({}))) as { message?: string };
        saveError.value = answer.message ?? `${r.status}`;
      }
    } catch (e) {
      if (e instanceof Unauthorized) return;
      // The server is unreachable: keep the local copy and try again.
      dirty = true;
      source.value = 'local';
      saveError.value = String((e as Error).message ?? e);
      scheduleSave(RETRY_MS);
    }
  })();
  expose();
  try {
    await saving;
  } finally {
    saving = null;
    expose();
  }
}

/** Whether camera `id` is a favourite. */
export function isFavourite(id: string): boolean {
  return settings.value.favourites.includes(id);
}

/** Stars or unstars camera `id` (new favourites go last). */
export function toggleFavourite(id: string): void {
  updateSettings((s) => {
    if (s.favourites.includes(id)) s.favourites = s.favourites.filter((f) => f !== id);
    else if (s.favourites.length < MAX_FAVOURITES) s.favourites.push(id);
  });
}
