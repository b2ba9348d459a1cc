// A kiosk monitor page running a tour: waits until the page has started PATH ahead of the
// switch (window.wall.prefetched) and, after the switch, shows PATH on a tile that took
// over that warm session (window.wall.reused) and decodes frames. Prints one line:
//
//   RESULT {"prefetched": [..], "reused": n, "tiles": [..], "frames": [..]}
//
// Usage: node wall_tour.mjs KIOSK_URL TIMEOUT_MS PATH
import { launchChromium } from './chromium.mjs';

const [url, timeoutArg, path] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);

const look = page => page.evaluate(() => ({
  tiles: (window.wall && window.wall.tiles) || [],
  prefetched: (window.wall && window.wall.prefetched) || [],
  reused: (window.wall && window.wall.reused) || 0,
  error: window.wall && window.wall.error,
  frames: [...document.querySelectorAll('.tile video')].map(v =>
    v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0),
}));

const browser = await launchChromium();
let code = 1;
try {
  const page = await (await browser.newContext()).newPage();
  page.on('console', m => console.error(`[page] ${m.text()}`));
  await page.goto(url);
  const deadline = Date.now() + timeoutMs;
  let now;
  let sawWarmFirst = false;
  for (;;) {
    now = await look(page);
    if (now.prefetched.includes(path) && !now.tiles.includes(path)) sawWarmFirst = true;
    if (sawWarmFirst && now.reused > 0 && now.tiles.includes(path)
        && now.frames.some(f => f > 10)) break;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(now)}`);
    await new Promise(r => setTimeout(r, 50));
  }
  console.log('RESULT ' + JSON.stringify(now));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
  console.log('RESULT {}');
} finally {
  await browser.close();
}
process.exit(code);
