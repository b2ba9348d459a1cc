// Opens Watchpost's index page (GET /) in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) and checks that its live tile heals itself: once the tile
// plays (> 25 frames decoded), its WHEP session is ended behind the player's back (a
// DELETE sent by the test, as a server restart or a reaped session would end it); the
// tile must notice, start a new session and decode > 25 frames again.
//
// Usage: node tiles_heal.mjs INDEX_URL TIMEOUT_MS
// Prints `RESULT {"first":…,"second":…,"framesDecoded":…}`; exits 0 on success.
import { launchChromium, sessionPage } from './chromium.mjs';

const [url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 90000);
const browser = await launchChromium();
let code = 1;
const result = { first: null, second: null, framesDecoded: 0 };
// The one tile's current session and frames decoded by its peer connection.
const look = page => page.evaluate(async () => {
  const players = [...(window.wallPlayers || [])];
  if (players.length === 0) return { session: null, framesDecoded: 0 };
  const p = players[players.length - 1];
  let framesDecoded = 0;
  (await p.pc.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded = s.framesDecoded || 0;
  });
  return { session: p.session, framesDecoded, players: players.length };
});
try {
  const page = await sessionPage(browser, url);
  page.on('console', m => console.error(`[page] ${m.text()}`));
  await page.goto(url);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await look(page);
    if (!result.first && now.framesDecoded > 25) {
      result.first = now.session;
      console.error(`[test] tile plays ${now.session}; ending it behind the player's back`);
      await page.evaluate(s => fetch(s, { method: 'DELETE' }), now.session);
    } else if (result.first && now.session && now.session !== result.first && now.framesDecoded > 25) {
      result.second = now.session;
      result.framesDecoded = now.framesDecoded;
      code = 0;
      // End the tile's sessions (DELETE) before the browser goes.
      await page.evaluate(() => Promise.all([...window.wallPlayers].map(p => p.stop())));
      break;
    }
    await new Promise(r => setTimeout(r, 250));
  }
} catch (e) {
  console.error(e);
} finally {
  console.log('RESULT ' + JSON.stringify(result));
  await browser.close();
}
process.exit(code);
