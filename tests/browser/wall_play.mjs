// A kiosk monitor page (/wall/{wall}/{monitor}#token=…) in headless Chromium, with no
// operator session: waits until its one tile decodes frames, then (as an operator, with
// $WATCHPOST_TOKEN, from node) pushes a 4-tile layout with the camera on tile 3 and
// measures how long the page takes to show it and decode frames there; then reloads the
// page and checks it shows exactly the same tiles. Prints one line:
//
//   RESULT {"first_frames_ms": .., "follow_ms": .., "tiles_after": [..], "tiles_reloaded": [..]}
//
// Usage: node wall_play.mjs KIOSK_URL TIMEOUT_MS COMMANDS_URL CAMERA_ID
import { launchChromium } from './chromium.mjs';

const [url, timeoutArg, commandsUrl, camera] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);
const operator = process.env.WATCHPOST_TOKEN;

// Frames decoded per tile (the <video> elements in grid order), and the tiles' paths.
const look = page => page.evaluate(() => ({
  tiles: (window.wall && window.wall.tiles) || [],
  error: window.wall && window.wall.error,
  frames: [...document.querySelectorAll('video')].map(v =>
    v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0),
}));

async function until(page, what, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await look(page);
    if (check(now)) return now;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(now)}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

async function push(command) {
  const r = await fetch(commandsUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${operator}` },
    body: JSON.stringify(command),
  });
  if (!r.ok) throw new Error(`push ${JSON.stringify(command)}: ${r.status} ${await r.text()}`);
}

const browser = await launchChromium();
let code = 1;
try {
  // A fresh context: no cookie, no session; only the kiosk token in the fragment.
  const page = await (await browser.newContext()).newPage();
  page.on('console', m => console.error(`[page] ${m.text()}`));
  const started = Date.now();
  await page.goto(url);
  await until(page, 'the first tile to decode', s => s.frames.length === 1 && s.frames[0] > 10);
  const firstFrames = Date.now() - started;

  const pushed = Date.now();
  await push({ command: 'set_layout', layout: 4 });
  await push({ command: 'show_camera', tile: 3, camera_id: camera, profile: 'main' });
  const after = await until(page, 'the pushed layout to play', s =>
    s.tiles.length === 4 && s.frames.length === 4 && s.frames[3] > 10);
  const followMs = Date.now() - pushed;

  await page.reload();
  const reloaded = await until(page, 'the reloaded page to play', s =>
    s.tiles.length === 4 && s.frames.length === 4 && s.frames[3] > 10);
  console.log('RESULT ' + JSON.stringify({
    first_frames_ms: firstFrames,
    follow_ms: followMs,
    tiles_after: after.tiles,
    tiles_reloaded: reloaded.tiles,
  }));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
  console.log('RESULT {}');
} finally {
  await browser.close();
}
process.exit(code);
