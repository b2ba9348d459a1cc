// The operator console's offline map in headless Chromium: logs in through the console's
// login form, switches the map on, waits for the camera's and the incident's markers,
// reads where they are drawn (screen pixels), the district paths, the legend and the
// attribution line, zooms with the wheel about the map's centre (the markers' distance
// must grow), clicks the camera's marker and waits for the focused tile to play it, and
// saves a screenshot. Prints one line:
//
//   RESULT {"districts": [..], "map": {..}, "camera": {..}, "camera_in": [..], "labels": [..],
//           "incident": {..}, "attribution": "..",
//           "zoom": {..}, "tile": {..}, "csp_errors": [..]}
//
// Usage: node console_map.mjs CONSOLE_URL TIMEOUT_MS USERNAME PASSWORD CAMERA_ID INCIDENT_ID
//        SCREENSHOT
import { launchChromium, watchPage, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, username, password, camera, incident, screenshot] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);

const look = page => page.evaluate(() => (window.consoleTiles || []).map(t => ({
  index: t.index, camera: t.camera, path: t.path, state: t.state, reason: t.reason,
  frames: t.framesDecoded,
})));

async function until(what, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

/** The element's box on screen: left, top, width, height and centre, pixels. */
const box = (page, selector) => page.$eval(selector, el => {
  const r = el.getBoundingClientRect();
  return { left: r.left, top: r.top, width: r.width, height: r.height, cx: r.left + r.width / 2, cy: r.top + r.height / 2 };
});

const browser = await launchChromium();
let code = 1;
const cspErrors = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 850 } })).newPage();
  watchPage(page, cspErrors);
  const outside = [];
  page.on('request', r => {
    const u = new URL(r.url());
    if (u.host !== new URL(url).host && !u.protocol.startsWith('data')) outside.push(r.url());
  });
  await page.goto(url);
  await loginThroughForm(page, username, password, timeoutMs);
  await page.waitForSelector(`button[data-camera="${camera}"]`, { timeout: timeoutMs });

  await page.click('[data-test=map-toggle]');
  const cameraMarker = `[data-map-camera="${camera}"]`;
  const incidentMarker = `[data-map-incident="${incident}"]`;
  await page.waitForSelector(cameraMarker, { timeout: timeoutMs });
  await page.waitForSelector(incidentMarker, { timeout: timeoutMs });
  // The boundary asset is loaded before the first fit: wait for the attribution line.
  await until('the attribution line', () => page.$eval('[data-test=map-attribution]', el => el.textContent.trim()));

  const districts = await page.$$eval('path[data-district]', ps => ps.map(p => p.dataset.name));
  // Seat dots (drawn only when the boundary asset has no districts): centre on screen.
  const seats = await page.$$eval('[data-seat]', gs => gs.map(g => {
    const r = g.querySelector('circle').getBoundingClientRect();
    return { id: g.dataset.seat, name: g.querySelector('text').textContent, cx: r.x + r.width / 2, cy: r.y + r.height / 2 };
  }));
  const map = await box(page, '[data-test=map] svg.canvas');
  const cameraBox = await box(page, cameraMarker);
  const incidentBox = await box(page, incidentMarker);
  // Which districts' drawn shapes hold the camera marker's centre (the path's own fill test,
  // in its coordinates), and the district names drawn.
  const cameraIn = await page.$$eval('path[data-district]', (paths, at) => paths.filter(p => {
    const pt = new DOMPoint(at.x, at.y).matrixTransform(p.getScreenCTM().inverse());
    return p.isPointInFill(pt);
  }).map(p => p.dataset.name), { x: cameraBox.cx, y: cameraBox.cy });
  const labels = await page.$$eval('.district-label', ts => ts.map(t => t.textContent.trim()));
  const cameraInfo = await page.$eval(cameraMarker, el => ({
    category: el.dataset.category, state: el.dataset.state, title: el.querySelector('title')?.textContent ?? '',
  }));
  const incidentInfo = await page.$eval(incidentMarker, el => ({
    grade: el.dataset.grade, title: el.querySelector('title')?.textContent ?? '',
  }));
  const attribution = (await page.textContent('[data-test=map-attribution]')).trim();
  const attributionVisible = await page.isVisible('[data-test=map-attribution]');
  const legend = (await page.textContent('[data-test=map-legend]')).trim();

  // Wheel zoom about the map's centre: the markers move apart by the zoom factor.
  const gap = (a, b) => Math.hypot(a.cx - b.cx, a.cy - b.cy);
  const before = gap(cameraBox, incidentBox);
  await page.mouse.move(map.cx, map.cy);
  await page.mouse.wheel(0, -400);
  await until('the zoom', async () => (await box(page, cameraMarker)).cx !== cameraBox.cx);
  await new Promise(r => setTimeout(r, 200));
  const after = gap(await box(page, cameraMarker), await box(page, incidentMarker));

  // Click the camera: the focused tile (0) plays it.
  const started = Date.now();
  await page.click(cameraMarker);
  const tile = await until('the camera to play on the focused tile', async () => {
    const tile = (await look(page)).find(t => t.index === 0);
    return tile && tile.camera === camera && tile.state === 'playing' && tile.frames > 10 ? tile : null;
  }).catch(async e => { throw new Error(`${e.message}: ${JSON.stringify(await look(page))}`); });
  await page.screenshot({ path: screenshot });

  console.log('RESULT ' + JSON.stringify({
    districts, map, camera: { ...cameraBox, ...cameraInfo }, incident: { ...incidentBox, ...incidentInfo },
    camera_in: cameraIn, labels, seats, attribution, attribution_visible: attributionVisible, legend,
    zoom: { before, after }, tile, play_ms: Date.now() - started, outside_requests: outside,
    csp_errors: cspErrors,
  }));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
  console.log('RESULT ' + JSON.stringify({ csp_errors: cspErrors }));
} finally {
  await browser.close();
}
process.exit(code);
