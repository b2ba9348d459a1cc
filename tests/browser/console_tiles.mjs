// The operator console's video tiles in headless Chromium: logs in through the form, puts
// the camera GATE on tiles 0–2 and the ONVIF (PTZ) camera DOME on tile 3 of layout 4, and
// then, reading everything back from the page (window.consoleTiles, the DOM, the server's
// API with the page's session):
//
// - the stats overlay (toolbar toggle) shows bitrate > 0 and fps > 0;
// - the latency switch changes every receiver's jitterBufferTarget (smooth 500 ms ↔ low 0);
// - the mouse wheel zooms tile 0 (CSS transform scale > 1), a drag pans it, key 0 and the
//   1:1 button reset it (screenshot while zoomed with stats on);
// - the snapshot button downloads a PNG of the video's decoded size;
// - maximise tile 0 and restore within the grace: tiles 1–3 keep their RTCPeerConnection
//   and WHEP session; maximised past the grace: they pause (no server session), restored:
//   they play again;
// - a hidden tab (visibilityState emulated): after the grace every tile is paused and the
//   server has no WHEP session; visible again: every tile plays (frames advance);
// - PTZ: no panel on GATE; on DOME the panel lists the presets, holding → sends a move and
//   releasing a stop (the camera's status read back), "go to" a preset moves there.
//
// Prints one line: RESULT {json}.
//
// Last, a viewer (may not PTZ) logs in: DOME plays on tile 3 without a PTZ panel.
//
// Usage: node console_tiles.mjs CONSOLE_URL TIMEOUT_MS USERNAME PASSWORD GATE DOME PRESET_NAME SCREENSHOT VIEWER VIEWER_PASSWORD
import { readFileSync } from 'node:fs';
import { launchChromium, watchPage, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, username, password, gate, dome, presetName, screenshot, viewer, viewerPassword] =
  process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);
/** VideoTile.vue's PAUSE_GRACE_MS. */
const GRACE_MS = 5000;

const sleep = ms => new Promise(r => setTimeout(r, ms));

const look = (page, all = false) => page.evaluate(all => (all ? window.consoleTilesAll : window.consoleTiles).map(t => ({
  index: t.index, camera: t.camera, path: t.path, state: t.state, reason: t.reason,
  maximised: t.maximised, covered: t.covered, paused: t.paused, frames: t.framesDecoded,
  session: t.session, stats: t.stats, zoom: t.zoom, latency: t.latencyMode,
  jitter_target: t.jitterBufferTarget, pc: t.pc ? t.pc.connectionState : null,
})), all);

async function until(page, what, check, { all = false, timeout = timeoutMs } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const tiles = await look(page, all);
    if (check(tiles)) return tiles;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(tiles)}`);
    await sleep(100);
  }
}

/** The server's WHEP sessions (GET /api/v1/webrtc/sessions with the page's session). */
const serverSessions = page => page.evaluate(async () => {
  const r = await fetch('/api/v1/webrtc/sessions');
  if (!r.ok) throw new Error(`sessions: ${r.status}`);
  return (await r.json()).map(s => ({ id: s.id, path: s.path }));
});

const sessionId = url => (url ? url.split('/').pop() : null);
const playing = (t, minFrames = 10) => t.state === 'playing' && t.frames > minFrames;

/** Width and height from a PNG's IHDR chunk, or null when `bytes` is not a PNG. */
function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) return null;
  if (bytes.toString('ascii', 12, 16) !== 'IHDR') return null;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const ptzCall = (page, camera, command) => page.evaluate(async ([camera, command]) => {
  const r = await fetch(`/api/v1/cameras/${camera}/ptz`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(command),
  });
  return { status: r.status, body: await r.json() };
}, [camera, command]);

const setVisibility = (page, state) => page.evaluate(state => {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' });
  document.dispatchEvent(new Event('visibilitychange'));
}, state);

const browser = await launchChromium();
let code = 1;
const cspErrors = [];
const result = {};
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  watchPage(page, cspErrors);
  await page.goto(url);
  await loginThroughForm(page, username, password, timeoutMs);
  await page.waitForSelector(`button[data-camera="${gate}"]`, { timeout: timeoutMs });
  await page.waitForSelector(`button[data-camera="${dome}"]`, { timeout: timeoutMs });
  await page.selectOption('select[data-test=lang]', 'en');

  // Layout 4: GATE on tiles 0–2, DOME on tile 3.
  await page.click('button[data-layout="4"]');
  for (const [index, camera] of [[0, gate], [1, gate], [2, gate], [3, dome]]) {
    await page.click(`button[data-camera="${camera}"]`);
    await page.click(`.tile[data-index="${index}"]`, { position: { x: 40, y: 60 } });
  }
  let started = Date.now();
  let tiles = await until(page, 'four tiles to play', ts => ts.length === 4 && ts.every(t => playing(t)));
  result.play = { ms: Date.now() - started, tiles: tiles.map(t => ({ index: t.index, camera: t.camera, path: t.path, state: t.state, frames: t.frames })) };

  // ── Stats overlay ──
  result.stats_overlay_before = await page.$('.tile[data-index="0"] [data-test=stats]') !== null;
  await page.click('[data-test=stats-toggle]');
  started = Date.now();
  let overlay;
  for (;;) {
    overlay = await page.$eval('.tile[data-index="0"] [data-test=stats]', el => ({
      bitrate: Number(el.dataset.bitrate || 0), fps: Number(el.dataset.fps || 0),
      rtt: el.dataset.rtt === '' ? null : Number(el.dataset.rtt),
      loss: el.dataset.loss === '' ? null : Number(el.dataset.loss),
      jitter_buffer: el.dataset.jitterBuffer === '' ? null : Number(el.dataset.jitterBuffer),
      text: el.innerText,
    })).catch(() => null);
    if (overlay && overlay.bitrate > 0 && overlay.fps > 0 && overlay.rtt !== null && overlay.jitter_buffer !== null) break;
    if (Date.now() - started > timeoutMs) throw new Error(`no stats overlay with rates: ${JSON.stringify(overlay)}`);
    await sleep(200);
  }
  result.stats = { ...overlay, overlays: await page.$$eval('[data-test=stats]', els => els.length) };

  // ── Latency switch ──
  const targets = async () => (await look(page)).map(t => ({ mode: t.latency, target: t.jitter_target }));
  result.latency = { initial: await targets() };
  await page.click('[data-test=latency-toggle]');
  result.latency.toggled = await targets();
  result.latency.toggled_button = await page.getAttribute('[data-test=latency-toggle]', 'data-mode');
  result.latency.kept = await page.evaluate(() => localStorage.getItem('watchpost.console.tiles'));
  await page.click('[data-test=latency-toggle]');
  result.latency.back = await targets();
  // Low latency for the rest (and a new connection must get it too: checked after the resume).
  await page.click('[data-test=latency-toggle]');

  // ── Digital zoom ──
  const video0 = '.tile[data-index="0"] video';
  const box = await page.locator(video0).boundingBox();
  const transform = () => page.$eval(video0, v => getComputedStyle(v).transform);
  const matrixScale = m => (m === 'none' ? 1 : Number(m.match(/^matrix\(([^,]+)/)[1]));
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6);
  await page.mouse.wheel(0, -300);
  await sleep(200);
  let zoom = (await look(page))[0].zoom;
  result.zoom = { after_wheel: zoom, transform: await transform(), label: (await page.textContent('.tile[data-index="0"] [data-test=zoom]')).trim() };
  result.zoom.transform_scale = matrixScale(result.zoom.transform);
  // Drag pans.
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.45, { steps: 5 });
  await page.mouse.up();
  await sleep(100);
  result.zoom.after_drag = (await look(page))[0].zoom;
  // More zoom for the screenshot (stats overlay on, zoomed).
  await page.mouse.wheel(0, -200);
  await sleep(1200);
  result.zoom.screenshot = (await look(page))[0].zoom;
  await page.screenshot({ path: screenshot });
  // Key 0 (nothing typed) resets the focused tile: focus tile 0 first.
  await page.click('.tile[data-index="0"]', { position: { x: 40, y: 60 } });
  await page.keyboard.press('Escape');
  await page.keyboard.press('0');
  await sleep(100);
  result.zoom.after_key0 = { zoom: (await look(page))[0].zoom, transform: await transform() };
  result.zoom.typed_after_key0 = await page.$('[data-test=typed]') !== null;
  // The 1:1 button.
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.wheel(0, -200);
  await sleep(100);
  result.zoom.before_button = (await look(page))[0].zoom.scale;
  await page.click('.tile[data-index="0"] [data-test=zoom-reset]');
  result.zoom.after_button = { zoom: (await look(page))[0].zoom, transform: await transform() };

  // ── Snapshot ──
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: timeoutMs }),
    page.click('.tile[data-index="0"] [data-test=snapshot]'),
  ]);
  const file = await download.path();
  const bytes = readFileSync(file);
  result.snapshot = {
    name: download.suggestedFilename(), bytes: bytes.length, png: pngSize(bytes),
    video: await page.$eval(video0, v => ({ width: v.videoWidth, height: v.videoHeight })),
  };

  // ── Maximise and restore within the grace: the other tiles keep their connections. ──
  await page.evaluate(() => { window.__before = window.consoleTiles.map(t => t.pc); });
  const before = await look(page);
  await page.dblclick('.tile[data-index="0"]', { position: { x: 40, y: 60 } });
  await until(page, 'tile 0 maximised', ts => ts.length === 1 && ts[0].maximised);
  await sleep(1500);
  const hidden = await look(page, true);
  await page.dblclick('.tile[data-index="0"]', { position: { x: 40, y: 60 } });
  tiles = await until(page, 'the four tiles back', ts => ts.length === 4 && ts.every(t => playing(t)));
  const same = await page.evaluate(() => window.consoleTiles.map((t, i) => t.pc !== null && t.pc === window.__before[i]));
  const sessionsNow = await serverSessions(page);
  result.max_quick = {
    hidden_states: hidden.filter(t => t.index > 0).map(t => ({ index: t.index, covered: t.covered, state: t.state })),
    same_pc: same,
    same_session: tiles.map((t, i) => t.session !== null && t.session === before[i].session),
    others_on_server: before.slice(1).map(t => sessionsNow.some(s => s.id === sessionId(t.session))),
    frames_advanced: tiles.slice(1).map((t, i) => t.frames > before[i + 1].frames),
  };

  // ── Maximised past the grace: the others pause (no server session); restored: play. ──
  await page.dblclick('.tile[data-index="0"]', { position: { x: 40, y: 60 } });
  started = Date.now();
  await until(page, 'the covered tiles to pause', ts =>
    ts.length === 4 && ts.filter(t => t.index > 0).every(t => t.paused && t.covered && t.session === null),
  { all: true });
  const pausedAfter = Date.now() - started;
  const sessionsMax = await (async () => {
    const deadline = Date.now() + 10000;
    for (;;) {
      const s = await serverSessions(page);
      if (s.length === 1 || Date.now() > deadline) return s;
      await sleep(200);
    }
  })();
  await page.dblclick('.tile[data-index="0"]', { position: { x: 40, y: 60 } });
  started = Date.now();
  tiles = await until(page, 'the four tiles to play again', ts => ts.length === 4 && ts.every(t => playing(t)));
  result.max_long = {
    paused_after_ms: pausedAfter, server_sessions: sessionsMax.map(s => s.path),
    resumed_ms: Date.now() - started, states: tiles.map(t => t.state),
    jitter_targets: tiles.map(t => t.jitter_target),
  };

  // ── Hidden tab ──
  await setVisibility(page, 'hidden');
  started = Date.now();
  await sleep(2000);
  const duringGrace = await look(page);
  await until(page, 'every tile to pause in the hidden tab', ts => ts.every(t => t.paused && t.pc === null));
  const pausedMs = Date.now() - started;
  let sessionsHidden;
  for (const deadline = Date.now() + 10000; ;) {
    sessionsHidden = await serverSessions(page);
    if (sessionsHidden.length === 0 || Date.now() > deadline) break;
    await sleep(200);
  }
  const pausedText = await page.textContent('.tile[data-index="1"] [data-test=state]');
  const pausedNote = await page.$('.tile[data-index="1"] [data-test=paused]') !== null;
  await setVisibility(page, 'visible');
  started = Date.now();
  tiles = await until(page, 'every tile to play again', ts => ts.every(t => playing(t)));
  const resumedMs = Date.now() - started;
  await sleep(1500);
  const later = await look(page);
  result.hidden = {
    during_grace: duringGrace.map(t => t.state), paused_after_ms: pausedMs,
    server_sessions: sessionsHidden.length, paused_text: pausedText.trim(), paused_note: pausedNote,
    resumed_ms: resumedMs, frames: tiles.map(t => t.frames), frames_later: later.map(t => t.frames),
    states_later: later.map(t => t.state),
  };

  // ── PTZ ──
  const ptz = { gate_panel: await page.$('.tile[data-index="0"] [data-test=ptz]') !== null };
  await page.waitForSelector('.tile[data-index="3"] [data-test=ptz-toggle]', { timeout: timeoutMs });
  await page.click('.tile[data-index="3"] [data-test=ptz-toggle]');
  await page.waitForSelector(`.tile[data-index="3"] [data-test=ptz-presets] option:has-text("${presetName}")`, { state: 'attached', timeout: timeoutMs });
  ptz.presets = await page.$$eval('.tile[data-index="3"] [data-test=ptz-presets] option', os => os.map(o => ({ token: o.value, name: o.textContent.trim() })));
  ptz.start = (await ptzCall(page, dome, { action: 'status' })).body;
  const right = page.locator('.tile[data-index="3"] [data-ptz=right]');
  await right.hover();
  await page.mouse.down();
  await sleep(1500);
  ptz.held = (await ptzCall(page, dome, { action: 'status' })).body;
  await page.mouse.up();
  await sleep(800);
  ptz.released = (await ptzCall(page, dome, { action: 'status' })).body;
  await sleep(1000);
  ptz.released_later = (await ptzCall(page, dome, { action: 'status' })).body;
  // Holding, then leaving the button (no pointer up) stops too.
  const up = page.locator('.tile[data-index="3"] [data-ptz=up]');
  await up.hover();
  await page.mouse.down();
  await sleep(800);
  await page.mouse.move(box.x + 20, box.y + 20);
  await sleep(800);
  ptz.left_button = (await ptzCall(page, dome, { action: 'status' })).body;
  await sleep(1000);
  ptz.left_button_later = (await ptzCall(page, dome, { action: 'status' })).body;
  await page.mouse.up();
  // Go to the preset.
  const token = ptz.presets.find(p => p.name === presetName).token;
  await page.selectOption('.tile[data-index="3"] [data-test=ptz-presets]', token);
  await page.click('.tile[data-index="3"] [data-test=ptz-goto]');
  await sleep(1000);
  ptz.after_goto = (await ptzCall(page, dome, { action: 'status' })).body;
  ptz.error = await page.$('.tile[data-index="3"] [data-test=ptz-error]') !== null;
  result.ptz = ptz;

  // ── A viewer: DOME on tile 3 plays, without a PTZ panel. ──
  await page.click('[data-test=logout]');
  await loginThroughForm(page, viewer, viewerPassword, timeoutMs);
  await page.waitForSelector(`button[data-camera="${dome}"]`, { timeout: timeoutMs });
  await page.click('button[data-layout="4"]');
  await page.click(`button[data-camera="${dome}"]`);
  await page.click('.tile[data-index="3"]', { position: { x: 40, y: 60 } });
  tiles = await until(page, 'the viewer\'s tile 3 to play DOME', ts =>
    ts.length === 4 && ts[3].camera === dome && playing(ts[3]));
  // The panel decides once the role is known: give it the time a presets call would take.
  await sleep(1500);
  result.viewer = {
    dome_state: tiles[3].state,
    ptz_panels: await page.$$eval('[data-test=ptz]', els => els.length),
  };

  result.csp_errors = cspErrors;
  console.log('RESULT ' + JSON.stringify(result));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
  console.log('RESULT ' + JSON.stringify({ ...result, csp_errors: cspErrors }));
} finally {
  await browser.close();
}
process.exit(code);
