// The operator console's video-wall panel (/console) driving a kiosk monitor page
// (/wall/{wall}/{monitor}#token=…) open in a SECOND browser context, in headless Chromium.
// Through the console only (logged in through its form):
//
//  1. layout 1, camera A on tile 0: it plays;
//  2. saves the grid as scene "Gate main", applies it to the monitor (the wall panel's
//     chosen monitor): the monitor page follows (tiles' paths, frames decoded), timed;
//     the monitor page reloaded shows the same tiles;
//  3. layout 4, camera B on tile 1; saves scene "Gate and yard"; "push the whole grid"
//     applies that saved scene (no new scene): the monitor follows, timed;
//  4. a tour of both scenes (dwell 3 s, loop) created and started from the panel: the
//     monitor page goes through the steps (scene 1, scene 2, scene 1 again), each
//     transition timed; the panel follows the tour's steps by its event stream;
//  5. stops the tour; sends the incident's cameras to the monitor from the incident panel
//     ("to monitor"): the monitor follows, timed; then "restore" there: the content from
//     before the incident is back;
//  6. the command palette (Ctrl+K) finds the scene by name and shows it on the grid;
//  7. the focused tile's camera pushed to monitor tile 0;
//  8. a viewer (third context, logged in as VIEWER) sees the monitor and the scenes but
//     is offered no write action (no push, save, apply, tour, restore, "to monitor").
//
// Prints one line: RESULT {json} (see the Rust test tests/tests/e2e/console_walls.rs).
//
// Usage: node console_wall.mjs CONSOLE_URL TIMEOUT_MS USERNAME PASSWORD MONITOR_URL
//        CAMERA_A CAMERA_B INCIDENT_ID ARTIFACTS_DIR VIEWER VIEWER_PASSWORD
import { launchChromium, watchPage, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, username, password, monitorUrl, camA, camB, incident, artifacts,
  viewer, viewerPassword] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);
const SCENE_A = 'Gate main';
const SCENE_B = 'Gate and yard';

const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Polls `probe()` until `check(value)` holds; returns the value. */
async function until(what, probe, check, ms = timeoutMs) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

// The console's tiles (window.consoleTiles) and its wall panel's monitor (window.consoleWall).
const consoleTiles = page => page.evaluate(() => (window.consoleTiles || []).map(t => ({
  index: t.index, camera: t.camera, path: t.path, state: t.state, frames: t.framesDecoded,
})));
const panel = page => page.evaluate(() => window.consoleWall);

// The monitor page: its tiles' paths (window.wall.tiles, by tile index) and, per tile
// element on its grid, the camera it labels and the frames its video decoded.
const monitor = page => page.evaluate(() => ({
  tiles: (window.wall && window.wall.tiles) || [],
  revision: window.wall ? window.wall.revision : 0,
  error: (window.wall && window.wall.error) || null,
  shown: [...document.querySelectorAll('#grid .tile')].map(el => {
    const v = el.querySelector('video');
    return {
      camera: (el.querySelector('.label') || {}).textContent || '',
      frames: v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
    };
  }),
}));

/** Whether the monitor shows exactly `paths` and every camera tile decoded frames. */
function shows(m, paths) {
  if (JSON.stringify(m.tiles) !== JSON.stringify(paths)) return false;
  const cams = m.shown.filter(s => s.camera);
  return cams.length === paths.filter(Boolean).length && cams.every(s => s.frames > 10);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const browser = await launchChromium();
let code = 1;
const cspErrors = [];
const result = { csp_errors: cspErrors };
try {
  // The console: a fresh context, logged in through its own form.
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  watchPage(page, cspErrors, 'console');
  await page.goto(url);
  await loginThroughForm(page, username, password, timeoutMs);
  await page.waitForSelector(`button[data-camera="${camA}"]`, { timeout: timeoutMs });
  await page.waitForSelector('[data-test=monitor-view]', { timeout: timeoutMs });
  result.panel_initial = await panel(page);

  // The monitor page: a second context, no session, only the kiosk token.
  const wall = await (await browser.newContext({ viewport: { width: 960, height: 540 } })).newPage();
  wall.on('console', m => console.error(`[monitor] ${m.text()}`));
  await wall.goto(monitorUrl);
  result.monitor_initial = await until('the monitor page to load', () => monitor(wall),
    m => m.revision > 0);

  // 1. Camera A on tile 0 of layout 1.
  await page.click('button[data-layout="1"]');
  await page.click(`button[data-camera="${camA}"]`);
  await page.click('.tile[data-index="0"]');
  const tiles1 = await until('console tile 0 to play', () => consoleTiles(page), ts =>
    ts.length === 1 && ts[0].camera === camA && ts[0].state === 'playing' && ts[0].frames > 10);
  result.console_tile = tiles1[0];

  // 2. Scene A saved and applied; the monitor follows.
  await page.fill('form[data-test=save-scene] input[name=scene-name]', SCENE_A);
  await page.click('form[data-test=save-scene] button[type=submit]');
  const sceneA = `li[data-scene-name="${SCENE_A}"]`;
  await page.waitForSelector(sceneA, { timeout: timeoutMs });
  result.scene_a = await page.getAttribute(sceneA, 'data-scene');
  const pathsA = [`cam/${camA}/main`];
  let at = Date.now();
  await page.click(`${sceneA} [data-test=scene-apply]`);
  let m = await until('the monitor to show scene A', () => monitor(wall), x => shows(x, pathsA));
  result.apply = { follow_ms: Date.now() - at, tiles: m.tiles, shown: m.shown };
  result.apply.panel = await until('the panel to show scene A', () => panel(page), p =>
    p && same(p.paths, pathsA) && p.source === 'scene');
  await wall.reload();
  m = await until('the reloaded monitor to show scene A', () => monitor(wall), x => shows(x, pathsA));
  result.reloaded = { tiles: m.tiles, shown: m.shown };

  // 3. Layout 4, camera B on tile 1; scene B saved; "push the whole grid".
  await page.click('button[data-layout="4"]');
  await page.click(`button[data-camera="${camB}"]`);
  await page.click('.tile[data-index="1"]');
  await until('console tile 1 to play camera B', () => consoleTiles(page), ts =>
    ts.length === 4 && ts[1].camera === camB && ts[1].state === 'playing' && ts[1].frames > 10);
  await page.fill('form[data-test=save-scene] input[name=scene-name]', SCENE_B);
  await page.click('form[data-test=save-scene] button[type=submit]');
  const sceneB = `li[data-scene-name="${SCENE_B}"]`;
  await page.waitForSelector(sceneB, { timeout: timeoutMs });
  result.scene_b = await page.getAttribute(sceneB, 'data-scene');
  const pathsB = [`cam/${camA}/sub`, `cam/${camB}/sub`, null, null];
  at = Date.now();
  await page.click('[data-test=push-grid]');
  m = await until('the monitor to show the pushed grid', () => monitor(wall), x => shows(x, pathsB));
  result.push_grid = { follow_ms: Date.now() - at, tiles: m.tiles, shown: m.shown };
  result.push_grid.panel = await until('the panel to show the pushed grid', () => panel(page), p =>
    p && same(p.paths, pathsB));
  result.scene_count = await page.$$eval('li[data-scene]', ls => ls.length);

  // 4. A tour of A and B, 3 s each, started from the panel.
  await page.check(`${sceneA} [data-test=tour-pick]`);
  await page.check(`${sceneB} [data-test=tour-pick]`);
  await page.fill('form[data-test=new-tour] input[name=tour-name]', 'Round');
  await page.fill('form[data-test=new-tour] input[name=dwell]', '3');
  const started = Date.now();
  await page.click('form[data-test=new-tour] button[type=submit]');
  // The monitor's transitions (a step shown: its paths, when, whether decoded), and the
  // tour steps the panel reported, until the monitor went A → B → A.
  const sequence = [];
  const panelSteps = [];
  let last = JSON.stringify(pathsB);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await monitor(wall);
    const key = JSON.stringify(now.tiles);
    if (key !== last && (same(now.tiles, pathsA) || same(now.tiles, pathsB))) {
      sequence.push({ tiles: now.tiles, ms: Date.now() - started, decoded: false });
      last = key;
    }
    const cur = sequence[sequence.length - 1];
    if (cur && !cur.decoded && shows(now, cur.tiles)) {
      cur.decoded = true;
      cur.decoded_ms = Date.now() - started;
    }
    const p = await panel(page);
    if (p && p.tour_step !== null && panelSteps[panelSteps.length - 1] !== p.tour_step) panelSteps.push(p.tour_step);
    const names = sequence.map(s => (same(s.tiles, pathsA) ? 'A' : 'B'));
    if (names.join('') === 'ABA' && cur.decoded) break;
    if (names.length > 3) throw new Error(`unexpected tour sequence ${JSON.stringify(sequence)}`);
    if (Date.now() > deadline) throw new Error(`timed out in the tour: ${JSON.stringify(sequence)}`);
    await sleep(50);
  }
  result.tour = {
    sequence, panel_steps: panelSteps,
    running_badge: await page.$('[data-test=tour-running]') !== null,
    source: await page.textContent('[data-test=monitor-source]'),
  };

  // 5. Stop the tour; the incident to the monitor; restore.
  await page.click('[data-test=stop-tour]');
  const stopped = await until('the panel to show the tour stopped', () => panel(page), p =>
    p && p.source === 'manual' && p.tour_step === null);
  m = await until('the monitor to play what the stopped tour left', () => monitor(wall), x =>
    shows(x, stopped.paths));
  result.stopped = { panel: stopped, tiles: m.tiles };
  const pathsIncident = [`cam/${camB}/main`];
  const toMonitor = `[data-incident-monitor="${incident}"]`;
  await page.waitForSelector(toMonitor, { timeout: timeoutMs });
  at = Date.now();
  await page.click(toMonitor);
  m = await until('the monitor to show the incident', () => monitor(wall), x => shows(x, pathsIncident));
  result.incident = { follow_ms: Date.now() - at, tiles: m.tiles, shown: m.shown };
  result.incident.panel = await until('the panel to offer restore', () => panel(page), p =>
    p && p.source === 'incident' && p.restorable);
  result.incident.message = await page.textContent('[data-test=incident-wall-message]');
  await page.waitForSelector('[data-test=incident-restore]', { timeout: timeoutMs });
  await wall.screenshot({ path: `${artifacts}/monitor-incident.png` });
  at = Date.now();
  await page.click('[data-test=incident-restore]');
  m = await until('the monitor to show its content from before the incident', () => monitor(wall), x =>
    shows(x, stopped.paths));
  result.restored = { follow_ms: Date.now() - at, tiles: m.tiles, shown: m.shown };
  result.restored.panel = await until('the panel to show the restore', () => panel(page), p =>
    p && !p.restorable && same(p.paths, stopped.paths));
  result.restored.restore_button = await page.$('[data-test=incident-restore]') !== null;
  await wall.screenshot({ path: `${artifacts}/monitor.png` });

  // 6. The palette shows scene B on the console's grid (from layout 1).
  await page.click('button[data-layout="1"]');
  await page.keyboard.press('Control+k');
  await page.waitForSelector('[data-test=palette-input]', { timeout: timeoutMs });
  await page.keyboard.type('gate and');
  const items = await page.$$eval('[data-palette]', bs => bs.map(b => b.dataset.palette));
  await page.keyboard.press('Enter');
  const grid = await until('the palette scene to play on the grid', () => consoleTiles(page), ts =>
    ts.length === 4 && ts[0].camera === camA && ts[1].camera === camB &&
    ts[0].state === 'playing' && ts[1].state === 'playing' && ts[0].frames > 10 && ts[1].frames > 10);
  result.palette = {
    items, tiles: grid.map(t => ({ index: t.index, camera: t.camera, path: t.path })),
    layout: await page.getAttribute('.grid', 'data-layout'),
    open_after: await page.$('[data-test=palette]') !== null,
  };

  // 7. The focused tile (1: camera B) to monitor tile 0.
  await page.click('.tile[data-index="1"]');
  await page.click('[data-monitor-tile="0"]');
  at = Date.now();
  await page.click('[data-test=push-focused]');
  m = await until('the monitor to show camera B on tile 0', () => monitor(wall), x =>
    typeof x.tiles[0] === 'string' && x.tiles[0].startsWith(`cam/${camB}/`) && shows(x, x.tiles));
  result.focused = { follow_ms: Date.now() - at, tiles: m.tiles };
  await page.screenshot({ path: `${artifacts}/console-wall.png` });

  // 8. A viewer: reads the monitor and the scenes, is offered no write action.
  const look = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  look.on('pageerror', e => console.error(`[viewer error] ${e}`));
  await look.goto(url);
  await loginThroughForm(look, viewer, viewerPassword, timeoutMs);
  await look.waitForSelector('[data-test=monitor-view]', { timeout: timeoutMs });
  await look.waitForSelector(`[data-incident="${incident}"]`, { timeout: timeoutMs });
  await look.waitForSelector(sceneB, { timeout: timeoutMs });
  const count = sel => look.$$eval(sel, es => es.length);
  await look.keyboard.press('Control+k');
  await look.waitForSelector('[data-test=palette-input]', { timeout: timeoutMs });
  await look.keyboard.type('gate and');
  result.viewer = {
    panel: await panel(look),
    scenes: await count('li[data-scene]'),
    write_controls: await count([
      '[data-test=push-focused]', '[data-test=push-grid]', '[data-test=stop-tour]',
      '[data-test=wall-restore]', 'form[data-test=save-scene]', '[data-test=scene-apply]',
      '[data-test=tour-pick]', '[data-test=tour-start]', 'form[data-test=new-tour]',
      '[data-incident-monitor]', '[data-test=incident-restore]', '[data-test=kiosk-link]',
    ].join(', ')),
    enabled_monitor_tiles: await count('[data-monitor-tile]:not([disabled])'),
    palette_items: await look.$$eval('[data-palette]', bs => bs.map(b => b.dataset.palette)),
  };

  // 9. A grid no saved scene equals (tile 3, then camera A), pushed whole: the monitor
  // shows it in one step (`show_grid`) and no scene is saved for it.
  await page.click('.tile[data-index="3"]');
  await page.click(`button[data-camera="${camA}"]`);
  await until('console tile 3 to play camera A', () => consoleTiles(page), ts =>
    ts.length === 4 && ts[3].camera === camA && ts[3].state === 'playing');
  const pathsGrid = [`cam/${camA}/sub`, `cam/${camB}/sub`, null, `cam/${camA}/sub`];
  at = Date.now();
  await page.click('[data-test=push-grid]');
  m = await until('the monitor to show the unsaved grid', () => monitor(wall), x => shows(x, pathsGrid));
  result.push_unsaved = {
    follow_ms: Date.now() - at, tiles: m.tiles, shown: m.shown,
    scene_count: await page.$$eval('li[data-scene]', ls => ls.length),
  };

  // 10. A monitor page link made in the panel (a fresh kiosk token) plays the monitor in a
  // browser that has no session at all.
  await page.click('[data-test=kiosk-link]');
  await page.waitForSelector('[data-test=kiosk-url]', { timeout: timeoutMs });
  const kioskUrl = await page.inputValue('[data-test=kiosk-url]');
  const linked = await (await browser.newContext({ viewport: { width: 960, height: 540 } })).newPage();
  linked.on('console', m => console.error(`[linked monitor] ${m.text()}`));
  await linked.goto(kioskUrl);
  m = await until('the linked monitor page to play', () => monitor(linked), x => shows(x, pathsGrid));
  result.kiosk_link = {
    page: new URL(kioskUrl).pathname, token_in_fragment: new URL(kioskUrl).hash.startsWith('#token='),
    query: new URL(kioskUrl).search, tiles: m.tiles, shown: m.shown,
  };
  // The page renewed its token at load and keeps it in the fragment: a reload (what a wall
  // PC does after a power cut) plays with the renewed one.
  const renewed = await until('the linked page to renew its token',
    () => linked.evaluate(() => ({ renewals: window.wall.renewals, expires_at: window.wall.expiresAt, hash: location.hash })),
    x => x.renewals >= 1);
  await linked.reload();
  m = await until('the linked monitor page to play after a reload', () => monitor(linked), x => shows(x, pathsGrid));
  result.kiosk_link.renewed = {
    renewals: renewed.renewals, expires_in_s: Math.round((renewed.expires_at - Date.now()) / 1000),
    token_in_fragment: renewed.hash.startsWith('#token='), tiles_after_reload: m.tiles,
  };

  // 11. Revoking the monitor's links in the panel (confirmed) stops both pages that use
  // them (the one opened with the test's token and the panel's link) within seconds.
  page.once('dialog', d => d.accept());
  const revokedAt = Date.now();
  await page.click('[data-test=kiosk-revoke]');
  const refused = async p => p.evaluate(() => ({
    refused: window.wall.refused, tiles: document.querySelectorAll('#grid video').length, status: window.wall.error,
  }));
  const stoppedPages = [];
  for (const p of [linked, wall]) stoppedPages.push(await until('a revoked page to stop', () => refused(p), x => x.refused && x.tiles === 0));
  result.revoked = { ms: Date.now() - revokedAt, pages: stoppedPages };
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
} finally {
  console.log('RESULT ' + JSON.stringify(result));
  await browser.close();
}
process.exit(code);
