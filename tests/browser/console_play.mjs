// The operator console (/console) in headless Chromium, as an operator uses it: logs in
// through the console's login form, picks the camera in the tree and a tile, waits for
// decoded frames on the main stream (layout 1), switches to layouts 4 and 9 (the tile
// plays the sub stream), double-clicks the tile (maximised: the main stream again), saves
// a screenshot and switches the language. Then the keyboard, in layout 4: ArrowRight
// focuses tile 1 and typing the camera's number (shown in the tree) puts the camera there;
// ArrowDown, ArrowLeft focus tile 2 and the command palette (Ctrl+K, part of the camera's
// name, Enter) puts it there. Prints one line:
//
//   RESULT {"lang_default": .., "steps": {"1": {path, state, frames}, ...}, "csp_errors": [..], ...}
//
// Usage: node console_play.mjs CONSOLE_URL TIMEOUT_MS USERNAME PASSWORD CAMERA_ID SCREENSHOT
import { launchChromium, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, username, password, camera, screenshot] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);

// The tiles as the console reports them (window.consoleTiles: frames from getStats).
const look = page => page.evaluate(() => (window.consoleTiles || []).map(t => ({
  index: t.index, camera: t.camera, path: t.path, state: t.state, reason: t.reason,
  maximised: t.maximised, frames: t.framesDecoded, pc: t.pc ? t.pc.connectionState : null,
})));

async function until(page, what, check, index = 0) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tiles = await look(page);
    const tile = tiles.find(t => t.index === index);
    if (tile && check(tile, tiles)) return { tile, tiles };
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(tiles)}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

const browser = await launchChromium();
let code = 1;
const cspErrors = [];
// The console's WHEP client trickles its candidates after the offer (whep.ts): any
// refusal of that PATCH is logged with this prefix.
const trickleWarnings = [];
const trickleStatuses = [];
try {
  // A fresh context: no cookie; the console's own login form makes the session.
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('console', m => {
    console.error(`[page] ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    if (/WHEP trickle/.test(m.text())) trickleWarnings.push(m.text());
  });
  page.on('pageerror', e => console.error(`[page error] ${e}`));
  page.on('response', r => {
    if (r.request().method() === 'PATCH' && r.url().includes('/whep/sessions/')) trickleStatuses.push(r.status());
  });
  await page.goto(url);
  await page.waitForSelector('form[data-test=login]', { timeout: timeoutMs });
  const langDefault = await page.evaluate(() => document.documentElement.lang);
  const loginTitle = await page.textContent('form[data-test=login] h2');
  await loginThroughForm(page, username, password, timeoutMs);
  const cameraButton = `button[data-camera="${camera}"]`;
  await page.waitForSelector(cameraButton, { timeout: timeoutMs });
  // The tree row's category icon, and its accessible name in the current language.
  const categoryIcon = await page.evaluate(sel => {
    const icon = document.querySelector(`${sel} svg.category-icon`);
    return icon ? { category: icon.dataset.category, label: icon.getAttribute('aria-label') } : null;
  }, cameraButton);

  const steps = {};
  const started = Date.now();
  // Layout 1; camera first, then the tile.
  await page.click('button[data-layout="1"]');
  await page.click(cameraButton);
  await page.click('.tile[data-index="0"]');
  let now = await until(page, 'tile 0 to play (layout 1)', t =>
    t.camera === camera && t.state === 'playing' && t.frames > 10);
  steps['1'] = { ...now.tile, ms: Date.now() - started };

  for (const layout of ['4', '9']) {
    const at = Date.now();
    await page.click(`button[data-layout="${layout}"]`);
    now = await until(page, `tile 0 to play (layout ${layout})`, (t, tiles) =>
      tiles.length === Number(layout) && t.camera === camera && t.state === 'playing' &&
      t.path.endsWith('/sub') && t.frames > 10);
    steps[layout] = { ...now.tile, tiles: now.tiles.length, ms: Date.now() - at };
  }
  await page.screenshot({ path: screenshot });

  // Maximised: only this tile, on the main stream.
  const at = Date.now();
  await page.dblclick('.tile[data-index="0"]');
  now = await until(page, 'the maximised tile to play the main stream', (t, tiles) =>
    tiles.length === 1 && t.maximised && t.path.endsWith('/main') && t.state === 'playing' && t.frames > 10);
  steps.max = { ...now.tile, tiles: now.tiles.length, ms: Date.now() - at };
  await page.screenshot({ path: screenshot.replace(/\.png$/, '-max.png') });

  // The language switch: every label follows, and it is kept.
  const stateZh = await page.textContent('.tile[data-index="0"] [data-test=state]');
  await page.selectOption('select[data-test=lang]', 'en');
  const stateEn = await page.textContent('.tile[data-index="0"] [data-test=state]');
  const kept = await page.evaluate(() => localStorage.getItem('watchpost.console.lang'));

  // The keyboard: layout 4, ArrowRight focuses tile 1, the camera's number goes there.
  const focusedTile = () => page.getAttribute('.tile[data-focused="true"]', 'data-index');
  let keyAt = Date.now();
  await page.click('button[data-layout="4"]');
  const focusedFirst = await focusedTile();
  await page.keyboard.press('ArrowRight');
  const focusedRight = await focusedTile();
  const number = (await page.textContent(`${cameraButton} [data-test=number]`)).trim();
  await page.keyboard.type(number);
  const typed = await page.textContent('[data-test=typed-number]');
  now = await until(page, 'tile 1 to play the typed camera', (t, tiles) =>
    tiles.length === 4 && t.camera === camera && t.state === 'playing' && t.frames > 10, 1);
  const keys = {
    focused_first: focusedFirst, focused_right: focusedRight, number, typed,
    tile: { ...now.tile, ms: Date.now() - keyAt },
  };

  // The command palette: focus to tile 2, Ctrl+K, part of the camera's name, Enter.
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowLeft');
  const focusedPalette = await focusedTile();
  const name = (await page.textContent('.tile[data-index="0"] .name')).trim();
  keyAt = Date.now();
  await page.keyboard.press('Control+k');
  await page.waitForSelector('[data-test=palette-input]', { timeout: timeoutMs });
  await page.keyboard.type(name.slice(0, 3).toLowerCase());
  const items = await page.$$eval('[data-palette]', bs => bs.map(b => b.dataset.palette));
  await page.keyboard.press('Enter');
  now = await until(page, 'tile 2 to play the camera picked in the palette', (t, tiles) =>
    tiles.length === 4 && t.camera === camera && t.state === 'playing' && t.frames > 10, 2);
  const palette = {
    focused: focusedPalette, query: name.slice(0, 3).toLowerCase(), items,
    open_after: await page.$('[data-test=palette]') !== null,
    tile: { ...now.tile, ms: Date.now() - keyAt },
  };
  await page.screenshot({ path: screenshot.replace(/\.png$/, '-keys.png') });

  // The side column's panels fold to their heading (kept by this browser across a reload).
  await page.click('[data-fold-toggle=duty]');
  const foldedHeight = await page.evaluate(() =>
    document.querySelector('[data-fold=duty]').getBoundingClientRect().height);
  const foldedNow = await page.getAttribute('[data-fold=duty]', 'data-closed');
  await page.reload();
  await page.waitForSelector('[data-fold=duty]', { timeout: timeoutMs });
  const fold = {
    closed: foldedNow, height: foldedHeight,
    after_reload: await page.getAttribute('[data-fold=duty]', 'data-closed'),
    others_after_reload: await page.getAttribute('[data-fold=incidents]', 'data-closed'),
  };
  await page.click('[data-fold-toggle=duty]');
  fold.unfolded = await page.getAttribute('[data-fold=duty]', 'data-closed');

  console.log('RESULT ' + JSON.stringify({
    lang_default: langDefault, login_title: loginTitle, category_icon: categoryIcon, steps,
    state_zh: stateZh, state_en: stateEn, lang_kept: kept, keys, palette, csp_errors: cspErrors,
    trickle_warnings: trickleWarnings, trickle_statuses: trickleStatuses, fold,
  }));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
  console.log('RESULT ' + JSON.stringify({ csp_errors: cspErrors }));
} finally {
  await browser.close();
}
process.exit(code);
