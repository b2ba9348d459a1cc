// The operator console (/console) as a district operator sees it, in headless Chromium:
// logs in through the console's login form, waits for the camera tree and the incident
// panel, reads what they show (and the page's whole text), clicks the incident, waits
// for its camera to play on a tile and saves a screenshot. Prints one line:
//
//   RESULT {"cameras": [..], "incidents": [..], "text": "..", "layout": "..", "tile": {..}, ...}
//
// Usage: node console_district.mjs CONSOLE_URL TIMEOUT_MS USERNAME PASSWORD CAMERA_ID
//        INCIDENT_ID SCREENSHOT
import { launchChromium, watchPage, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, username, password, camera, incident, screenshot] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);

const look = page => page.evaluate(() => (window.consoleTiles || []).map(t => ({
  index: t.index, camera: t.camera, path: t.path, state: t.state, reason: t.reason,
  frames: t.framesDecoded, pc: t.pc ? t.pc.connectionState : null,
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

const browser = await launchChromium();
let code = 1;
const cspErrors = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  watchPage(page, cspErrors);
  await page.goto(url);
  await loginThroughForm(page, username, password, timeoutMs);
  await page.waitForSelector(`button[data-camera="${camera}"]`, { timeout: timeoutMs });
  const incidentButton = `button[data-incident="${incident}"]`;
  await page.waitForSelector(incidentButton, { timeout: timeoutMs });

  const cameras = await page.$$eval('button[data-camera]', bs => bs.map(b => b.dataset.camera));
  const incidents = await page.evaluate(() => window.consoleIncidents || []);
  const incidentButtons = await page.$$eval('button[data-incident]', bs => bs.map(b => b.dataset.incident));
  const clock = await page.textContent(`${incidentButton} [data-test=clock]`);
  const text = await page.evaluate(() => document.body.innerText);

  // The incident's cameras on the grid.
  const started = Date.now();
  await page.click(incidentButton);
  const tiles = await until('the incident\'s camera to play', async () => {
    const tiles = await look(page);
    const tile = tiles.find(t => t.index === 0);
    return tile && tile.camera === camera && tile.state === 'playing' && tile.frames > 10 ? tiles : null;
  }).catch(async e => { throw new Error(`${e.message}: ${JSON.stringify(await look(page))}`); });
  const layout = await page.getAttribute('.grid', 'data-layout');
  await page.screenshot({ path: screenshot });
  const textAfter = await page.evaluate(() => document.body.innerText);
  const clockOverdue = await page.$eval(`${incidentButton} [data-test=clock]`, e => e.classList.contains('overdue'));
  await page.selectOption('select[data-test=lang]', 'en');
  const clockEn = await page.textContent(`${incidentButton} [data-test=clock]`);

  console.log('RESULT ' + JSON.stringify({
    cameras, incidents, incident_buttons: incidentButtons, clock, clock_overdue: clockOverdue,
    clock_en: clockEn, text, text_after: textAfter,
    layout, tiles, ms: Date.now() - started, csp_errors: cspErrors,
  }));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
  console.log('RESULT ' + JSON.stringify({ csp_errors: cspErrors }));
} finally {
  await browser.close();
}
process.exit(code);
