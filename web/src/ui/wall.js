// The wall monitor page: /wall/{wall}/{monitor}#token=<kiosk token>.
//
// It plays without a user session: the kiosk token (from the URL fragment, which browsers
// never send to the server) reads this monitor, follows the wall's event stream for it, and
// asks for a short stream token per tile, with which each tile plays over WHEP. What is
// shown always comes from the server, so a reload shows exactly the same. Without a token
// in the fragment the page uses the operator's session cookie instead.
//
// The kiosk token renews itself at half its life (and once at load), and the fragment
// then holds the new one, so a wall PC runs day and night on one link and a reload keeps
// working. When the monitor's links are revoked (or the token expired), the server refuses
// it (401): the page stops its tiles and says so.
import { whepPlay } from '/ui/whep.js';

const [, wallId, monitorId] = location.pathname.match(/^\/wall\/([^/]+)\/([^/]+)\/?$/) || [];
const wall = decodeURIComponent(wallId || '');
const monitor = decodeURIComponent(monitorId || '');
let token = new URLSearchParams(location.hash.slice(1)).get('token');
const authHeaders = () => (token ? { Authorization: 'Bearer ' + token } : {});
// Renewal: not before 10 s, retried after 30 s when the server could not be reached.
const MIN_RENEW_MS = 10000;
const RENEW_RETRY_MS = 30000;
const base = `/api/v1/walls/${encodeURIComponent(wall)}`;
const monitorUrl = `${base}/monitors/${encodeURIComponent(monitor)}`;

const grid = document.getElementById('grid');
const status = document.getElementById('status');
const RETRY_MS = 3000;

// What the page shows: the monitor's revision and, per tile index, its element and player.
window.wall = {
  wall, monitor, revision: 0, lastEventId: null, tiles: [], error: null,
  // For tests: the paths started ahead of a tour's switch, and how many tiles then
  // took over such a warm session instead of starting one.
  prefetched: [], reused: 0,
  // Kiosk token renewals done, when the current token expires (Unix ms), and whether the
  // link was refused (revoked or expired).
  renewals: 0, expiresAt: null, refused: false,
};
let tiles = [];
let revision = 0;
let loading = null;
// Sessions started ahead of a tour's next scene, by path: { video, player } (the video
// element moves into the tile that shows the path).
const warm = new Map();
let prefetchTimer = null;

function say(text) { status.textContent = text || ''; window.wall.error = text || null; }

class Refused extends Error {}

async function api(url, options = {}) {
  const res = await fetch(url, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (res.status === 401 && token) {
    refuse(await res.text());
    throw new Refused('this monitor link was revoked or has expired');
  }
  if (!res.ok) throw new Error(`${res.status}: ${await res.text()}`);
  return res;
}

// The kiosk token was refused: stop playing and say so; nothing retries (a new link is
// needed).
function refuse(detail) {
  if (window.wall.refused) return;
  window.wall.refused = true;
  for (const t of tiles) stopTile(t);
  tiles = [];
  for (const { player } of warm.values()) player.stop().catch(() => {});
  warm.clear();
  let reason = '';
  try { reason = JSON.parse(detail).error || ''; } catch { reason = detail; }
  say(`this monitor link was revoked or has expired; open a new link (${reason})`);
}

// Renews the kiosk token and schedules the next renewal at half the new token's life.
async function renew() {
  let next = RENEW_RETRY_MS;
  try {
    const res = await api(`${monitorUrl}/kiosk-token/renewal`, { method: 'POST' });
    const answer = await res.json();
    token = answer.token;
    history.replaceState(null, '', `${location.pathname}${location.search}#token=${encodeURIComponent(token)}`);
    window.wall.renewals += 1;
    window.wall.expiresAt = answer.expires_at;
    next = Math.max(MIN_RENEW_MS, (answer.expires_at - Date.now()) / 2);
  } catch (e) {
    if (e instanceof Refused) return;
  }
  setTimeout(renew, next);
}

// A stream token for `path`, which must be on this monitor.
async function tileToken(path) {
  const res = await api(`${monitorUrl}/stream-tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ path }),
  });
  return (await res.json()).token;
}

function stopTile(tile) {
  tile.stopped = true;
  clearTimeout(tile.retry);
  if (tile.player) tile.player.stop().catch(() => {});
  tile.el.remove();
}

// What a tile does when its session changes state: shows it, and plays again after a
// failure while the tile is shown.
function onTileState(tile) {
  return s => {
    tile.state.textContent = s === 'connected' ? '' : s;
    if ((s === 'failed' || s === 'ended' || s === 'closed') && !tile.stopped) {
      tile.player = null;
      clearTimeout(tile.retry);
      tile.retry = setTimeout(() => playTile(tile), RETRY_MS);
    }
  };
}

// Plays `tile.path` into its video, again after a failure while the tile is shown.
async function playTile(tile) {
  if (tile.stopped) return;
  const ready = warm.get(tile.path);
  if (ready) {
    // The tour's next scene was started ahead: take over its playing session.
    warm.delete(tile.path);
    ready.video.className = '';
    tile.video.replaceWith(ready.video);
    tile.video = ready.video;
    tile.player = ready.player;
    ready.onState = onTileState(tile);
    window.wall.reused++;
    return;
  }
  try {
    const streamToken = await tileToken(tile.path);
    if (tile.stopped) return;
    tile.player = await whepPlay(tile.path, tile.video, onTileState(tile), streamToken);
    if (tile.stopped) tile.player.stop().catch(() => {});
  } catch (e) {
    tile.state.textContent = String(e);
    clearTimeout(tile.retry);
    tile.retry = setTimeout(() => playTile(tile), RETRY_MS);
  }
}

// Lays out `view` (the monitor as GET answers it): a CSS grid of its rows and columns, each
// tile at its cells; tiles whose place and stream are unchanged keep playing.
function render(view) {
  const layout = view.state.layout;
  grid.style.gridTemplateRows = `repeat(${layout.rows}, 1fr)`;
  grid.style.gridTemplateColumns = `repeat(${layout.cols}, 1fr)`;
  const byTile = new Map(view.streams.map(s => [s.tile, s]));
  const next = layout.tiles.map((t, i) => {
    const stream = byTile.get(i);
    const key = `${t.row},${t.col},${t.row_span || 1},${t.col_span || 1}|${stream ? stream.path : ''}`;
    const old = tiles[i];
    if (old && old.key === key) return old;
    if (old) stopTile(old);
    const el = document.createElement('div');
    el.className = 'tile';
    el.style.gridRow = `${t.row + 1} / span ${t.row_span || 1}`;
    el.style.gridColumn = `${t.col + 1} / span ${t.col_span || 1}`;
    const video = document.createElement('video');
    video.autoplay = true; video.muted = true; video.playsInline = true;
    const label = document.createElement('div');
    label.className = 'label';
    label.textContent = stream ? stream.camera_id : '';
    const state = document.createElement('div');
    state.className = 'state';
    el.append(video, label, state);
    grid.append(el);
    const tile = { key, el, video, state, path: stream ? stream.path : null, player: null, stopped: false };
    if (tile.path) playTile(tile);
    return tile;
  });
  for (const old of tiles.slice(next.length)) if (!next.includes(old)) stopTile(old);
  tiles = next;
  revision = view.revision;
  window.wall.revision = revision;
  window.wall.tiles = tiles.map(t => t.path);
}

// During a tour, starts the next scene's streams `tour.prefetch_at` (server time) so that
// the switch shows pictures at once; the answer's `served_at` times it, whatever this
// machine's clock says. Warm sessions no tile took over are ended at the next change.
function schedulePrefetch(view) {
  clearTimeout(prefetchTimer);
  const showing = new Set(tiles.map(t => t.path));
  for (const [path, entry] of warm) {
    if (!(view.next_streams || []).some(s => s.path === path)) {
      warm.delete(path);
      entry.player.stop().catch(() => {});
    }
  }
  const at = view.tour && view.tour.prefetch_at;
  if (!at || !view.next_streams || view.next_streams.length === 0) return;
  const delay = Math.max(0, at - view.served_at);
  prefetchTimer = setTimeout(async () => {
    for (const s of view.next_streams) {
      if (showing.has(s.path) || warm.has(s.path)) continue;
      try {
        const video = document.createElement('video');
        video.autoplay = true; video.muted = true; video.playsInline = true;
        video.className = 'warm';
        document.body.append(video);
        const streamToken = await tileToken(s.path);
        const entry = { video, player: null, onState: () => {} };
        entry.player = await whepPlay(s.path, video, state => entry.onState(state), streamToken);
        warm.set(s.path, entry);
        window.wall.prefetched.push(s.path);
      } catch (e) {
        console.warn(`prefetching ${s.path}: ${e}`);
      }
    }
  }, delay);
}

// Reads the monitor and shows it (one read at a time; a change during it reads again).
async function load() {
  if (loading) { loading.again = true; return loading.done; }
  loading = { again: false };
  loading.done = (async () => {
    do {
      loading.again = false;
      const view = await (await api(monitorUrl)).json();
      if (view.revision !== revision || tiles.length === 0) render(view);
      schedulePrefetch(view);
    } while (loading.again);
  })().finally(() => { loading = null; });
  return loading.done;
}

// Follows the wall's events for this monitor (a fetch with the token in a header: no token
// in a URL), reloading the monitor on each change; reconnects with Last-Event-ID.
async function follow() {
  for (;;) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (window.wall.lastEventId !== null) headers['Last-Event-ID'] = window.wall.lastEventId;
      const res = await api(`${base}/events`, { headers });
      // The stream is open: what changes from now on arrives on it.
      await load();
      say('');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id = null, data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (id !== null) window.wall.lastEventId = id;
          if (!data) continue;
          const event = JSON.parse(data);
          if (event.monitor_id !== monitor) continue;
          if (event.kind === 'monitor_removed') {
            for (const t of tiles) stopTile(t);
            tiles = [];
            say('this monitor was removed from its wall');
            continue;
          }
          if (event.revision > revision) await load();
        }
      }
      if (!window.wall.refused) say('event stream ended; reconnecting…');
    } catch (e) {
      if (e instanceof Refused) return;
      say(String(e));
    }
    if (window.wall.refused) return;
    await new Promise(r => setTimeout(r, RETRY_MS));
  }
}

window.addEventListener('pagehide', () => { for (const t of tiles) if (t.player) t.player.stop(true); });

if (!wall || !monitor) {
  say('expected /wall/<wall>/<monitor>#token=<kiosk token>');
} else {
  if (token) renew();
  follow();
}
