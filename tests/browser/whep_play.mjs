// Plays a Watchpost /play/{path} page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is downloaded) and reports what WebRTC decoded.
//
// Usage: node whep_play.mjs PLAY_URL TIMEOUT_MS
// Prints `RESULT {"framesDecoded":…,"audioSamples":…,"framesRendered":…}` and exits 0
// once more than 25 video frames were decoded and audio samples were received;
// exits 1 on timeout or a player error. Ends the WHEP session (DELETE) before exiting.
import { chromium } from 'playwright-core';

const [url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
let code = 1;
let last = {};
try {
  const page = await browser.newPage();
  page.on('console', m => console.error(`[page] ${m.text()}`));
  await page.goto(url);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    last = await page.evaluate(async () => {
      const w = window.whep;
      const out = { error: w.error, session: w.session, framesRendered: w.framesRendered,
                    framesDecoded: 0, audioSamples: 0, videoCodec: null, audioCodec: null,
                    connectionState: w.pc ? w.pc.connectionState : null };
      if (!w.pc) return out;
      const stats = await w.pc.getStats();
      const codecs = {};
      stats.forEach(s => { if (s.type === 'codec') codecs[s.id] = s.mimeType; });
      stats.forEach(s => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') { out.framesDecoded = s.framesDecoded || 0; out.videoCodec = codecs[s.codecId]; }
        if (s.kind === 'audio') { out.audioSamples = s.totalSamplesReceived || 0; out.audioCodec = codecs[s.codecId]; }
      });
      return out;
    });
    if (last.error) break;
    if (last.framesDecoded > 25 && last.audioSamples > 0) { code = 0; break; }
    await new Promise(r => setTimeout(r, 250));
  }
  await page.evaluate(() => window.whepStop());
} catch (e) {
  console.error(e);
} finally {
  console.log('RESULT ' + JSON.stringify(last));
  await browser.close();
}
process.exit(code);
