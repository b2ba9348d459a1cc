// The index page: live tiles, server health, the camera and stream tables.
import { whepPlay } from '/ui/whep.js';
import { requireSession } from '/ui/app.js';

// One live tile per camera, on its sub stream when it has one (light enough for a grid);
// click a tile for the full stream. A tile heals itself: when its session ends (server
// restarted, session reaped) or cannot start (camera down: 503), it plays again after
// 2 s, doubling to 30 s while it keeps failing. ICE trouble is handled inside whepPlay.
const players = new Set();
window.wallPlayers = players; // for tests: the live players of the tiles
// Not logged in (or the session expired): the login form, then back here.
await requireSession();
function playTile(path, video, state, delay = 2000) {
  const again = () => setTimeout(() => playTile(path, video, state, Math.min(delay * 2, 30000)), delay);
  let player = null;
  whepPlay(path, video, s => {
    state.textContent = `${path}: ${s}`;
    state.classList.toggle('bad', s === 'failed' || s === 'ended');
    if (s === 'connected') delay = 2000;
    if (s === 'ended' || (s === 'failed' && player && player.iceRestarts >= 5)) {
      if (player) { players.delete(player); player.stop(); }
      again();
    }
  })
    .then(p => { player = p; players.add(p); })
    .catch(e => { state.textContent = `${path}: ${e}`; state.classList.add('bad'); again(); });
}
// Tiles: every enabled camera of the inventory (`cam/<id>/…` paths), then the cameras
// declared in the configuration (`<name>/…`).
async function tileSources() {
  const json = async url => { const r = await fetch(url); return r.ok ? r.json() : null; };
  const inventory = (await json('/api/v1/cameras?limit=1000'))?.items ?? [];
  const declared = (await json('/api/v1/config/cameras')) ?? [];
  return [
    ...inventory.filter(c => c.enabled && c.paths.length).map(c => ({
      title: c.name, main: c.paths[0], small: c.paths[c.paths.length - 1],
    })),
    ...declared.map(c => ({
      title: c.title || c.name, main: `${c.name}/main`, small: `${c.name}/${c.sub_url ? 'sub' : 'main'}`,
    })),
  ];
}
async function startTiles() {
  const tiles = document.getElementById('tiles');
  for (const c of await tileSources()) {
    const tile = document.createElement('div');
    tile.className = 'tile';
    const video = document.createElement('video');
    Object.assign(video, { autoplay: true, muted: true, playsInline: true });
    const link = document.createElement('a');
    link.href = `/play/${c.main}`;
    link.textContent = c.title;
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = 'connecting…';
    tile.append(video, link, state);
    tiles.appendChild(tile);
    playTile(c.small, video, state);
  }
}
window.addEventListener('pagehide', () => players.forEach(p => p.stop(true)));
startTiles();

async function refresh() {
  const health = document.getElementById('health');
  try {
    const r = await fetch('/healthz');
    const body = await r.json();
    health.textContent = r.ok ? `ok — version ${body.version}, database ${body.database}, up ${body.uptime_s}s` : body.message;
    health.className = r.ok ? 'ok' : 'bad';
  } catch (e) { health.textContent = 'unreachable'; health.className = 'bad'; }
  const tbody = document.getElementById('cameras');
  const listed = await fetch('/api/v1/cameras?limit=1000');
  const cams = listed.ok ? (await listed.json()).items : [];
  tbody.replaceChildren(...cams.map(c => {
    const tr = document.createElement('tr');
    const where = [c.division.district, c.division.street].filter(Boolean).join(' / ');
    const health = c.health ? c.health.state + (c.health.state === 'offline' && c.health.last_error ? ` (${c.health.last_error})` : '') : (c.enabled ? '' : 'disabled');
    for (const v of [c.id, c.name, c.category, where, c.onvif_url ? 'ONVIF' : 'RTSP', health]) {
      const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
    }
    tr.children[5].className = c.health?.state === 'online' ? 'ok' : (c.health?.state === 'offline' ? 'bad' : '');
    return tr;
  }));
  if (!cams.length) tbody.innerHTML = '<tr><td colspan="6">none in the inventory</td></tr>';
  const paths = await (await fetch('/api/v1/paths')).json();
  const ptbody = document.getElementById('paths');
  ptbody.replaceChildren(...paths.map(p => {
    const tr = document.createElement('tr');
    const tracks = p.tracks.map(t => t.kind === 'video' ? `${t.codec} ${t.width}×${t.height}` : `${t.codec} ${t.sample_rate} Hz`).join(', ');
    const rate = p.state === 'ready' ? `${(p.bitrate_in_bps / 1000).toFixed(0)} kbit/s, ${p.video_fps_in} fps` : '';
    const err = p.last_error ? `${p.last_error.kind}: ${p.last_error.message}` : '';
    for (const v of [p.name, p.state, tracks, rate, p.readers, p.drops, p.reconnects, err]) {
      const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
    }
    tr.children[1].className = p.state === 'ready' ? 'ok' : (p.state === 'retrying' ? 'bad' : '');
    const link = document.createElement('a');
    link.href = `/play/${p.name}`; link.textContent = p.name; link.style.color = 'inherit';
    tr.children[0].replaceChildren(link);
    return tr;
  }));
  if (!paths.length) ptbody.innerHTML = '<tr><td colspan="8">none</td></tr>';
}
refresh(); setInterval(refresh, 5000);
