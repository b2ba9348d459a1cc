// The operator's console settings follow the operator from browser to browser, and the
// duty panel, in headless Chromium. In a first browser context: log in through the form,
// star the camera (it appears under the favourites), choose layout 9 and put the camera on
// the third tile (index 2); wait until the console has saved. In a SECOND context (another
// browser: no shared localStorage or cookies): log in as the same user and read back the
// layout, the tile and the star, restored from the server. Then the duty panel there: the
// unit and the centre the test created, the incident the test opened before (from the
// backlog), and an incident this script opens now through the API (live, from the event
// stream). Last, a conflict: the second console unstars the camera, then the first
// (based on the older revision) changes the layout — its save is refused (412) and it
// reloads the second's settings. Prints one line:
//
//   RESULT {"first": {..}, "second": {..}, "duty": {..}, "conflict": {..}, "csp_errors": [..]}
//
// Usage: node console_settings.mjs CONSOLE_URL TIMEOUT_MS USERNAME PASSWORD CAMERA_ID
//        UNIT_ID CENTRE_ID SCREENSHOT
import { launchChromium, watchPage, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, username, password, camera, unit, centre, screenshot] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);

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

async function loggedIn() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watchPage(page, cspErrors);
  await page.goto(url);
  await page.waitForSelector('form[data-test=login]', { timeout: timeoutMs });
  const cacheBefore = await page.evaluate(() => localStorage.getItem('watchpost.console.settings'));
  await loginThroughForm(page, username, password, timeoutMs);
  await page.waitForSelector(`button[data-camera="${camera}"]`, { timeout: timeoutMs });
  await until('the settings from the server', () =>
    page.evaluate(() => window.consoleSettings && window.consoleSettings.source === 'server'));
  return { context, page, cacheBefore };
}

const settled = page => until('the settings to be saved', () => page.evaluate(() => {
  const s = window.consoleSettings;
  return s && !s.pending ? s : null;
}));

async function view(page) {
  return page.evaluate(cam => ({
    layout: document.querySelector('.grid')?.getAttribute('data-layout') ?? null,
    tiles: (window.consoleTiles || []).map(t => ({ index: t.index, camera: t.camera })),
    starred: document.querySelector(`button[data-star="${cam}"]`)?.getAttribute('aria-pressed') ?? null,
    favourites: [...document.querySelectorAll('button[data-favourite]')].map(b => b.dataset.favourite),
    settings: window.consoleSettings,
    latency: document.querySelector('[data-test=latency-toggle]')?.getAttribute('data-mode') ?? null,
    stats: document.querySelector('[data-test=stats-toggle]')?.getAttribute('aria-pressed') ?? null,
    lang: document.documentElement.lang,
  }), camera);
}

try {
  // The first browser.
  const first = await loggedIn();
  const a = first.page;
  const fresh = await view(a);
  await a.click(`button[data-star="${camera}"]`);
  await a.waitForSelector(`button[data-favourite="${camera}"]`, { timeout: timeoutMs });
  await a.click('button[data-layout="9"]');
  await a.click(`button[data-camera="${camera}"]`);
  await a.click('.tile[data-index="2"]');
  // The preferences: low latency, the stats overlay, English.
  await a.click('[data-test=latency-toggle]');
  await a.click('[data-test=stats-toggle]');
  await a.selectOption('select[data-test=lang]', 'en');
  const started = Date.now();
  await settled(a);
  const firstView = { ...(await view(a)), fresh, cache_before_login: first.cacheBefore, save_ms: Date.now() - started };

  // The second browser: nothing shared with the first but the server.
  const second = await loggedIn();
  const b = second.page;
  await until('the restored grid and preferences', () => b.evaluate(() =>
    document.querySelector('.grid')?.getAttribute('data-layout') === '9' &&
    document.documentElement.lang === 'en'));
  const secondView = { ...(await view(b)), cache_before_login: second.cacheBefore };

  // The duty panel of the second console.
  await b.waitForSelector(`[data-test=duty] [data-unit="${unit}"]`, { timeout: timeoutMs });
  await b.waitForSelector(`[data-test=duty] [data-centre="${centre}"]`, { timeout: timeoutMs });
  const backlog = await until('the duty log', () => b.evaluate(() =>
    window.consoleDuty && window.consoleDuty.log.length > 0 ? window.consoleDuty.log : null));
  const opened = await b.evaluate(async () => {
    const r = await fetch('/api/v1/incidents', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Duty log live check', incident_type: 'fire',
        location: { address: 'Gate 3', district: 'Chaoyang' } }),
    });
    return { status: r.status, id: (await r.json()).id };
  });
  const liveAt = Date.now();
  const live = await until('the opened incident in the duty log', () => b.evaluate(id =>
    window.consoleDuty.log.find(e => e.incident === id && e.kind === 'opened') ? window.consoleDuty.log : null,
  opened.id));
  const dutyText = await b.textContent('[data-test=duty]');
  const duty = {
    units: await b.evaluate(() => window.consoleDuty.units),
    centres: await b.evaluate(() => window.consoleDuty.centres),
    unit_group: await b.evaluate(u => document.querySelector(`[data-test=duty] [data-unit="${u}"]`)
      ?.closest('[data-availability]')?.dataset.availability ?? null, unit),
    backlog, opened, live, live_ms: Date.now() - liveAt, text: dutyText,
  };
  await b.screenshot({ path: screenshot });

  // A conflict: the second unstars (saved), then the first, still on the older revision,
  // changes the layout: refused with 412, it reloads the second's settings.
  await b.click(`button[data-star="${camera}"]`);
  const secondSaved = await settled(b);
  await a.click('button[data-layout="4"]');
  const conflict = await until('the first console to reload after the conflict', async () => {
    const v = await view(a);
    return v.settings.revision === secondSaved.revision && !v.settings.pending ? v : null;
  });
  const serverAfter = await b.evaluate(async () => (await fetch('/api/v1/auth/me/console')).json());

  console.log('RESULT ' + JSON.stringify({
    first: firstView, second: secondView, duty,
    conflict: { ...conflict, second_revision: secondSaved.revision, server: serverAfter },
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
