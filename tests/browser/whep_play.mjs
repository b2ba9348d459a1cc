// Plays a Watchpost /play/{path} page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is downloaded) and reports what WebRTC decoded.
//
// Usage: node whep_play.mjs PLAY_URL TIMEOUT_MS [--tcp-only] [--restart-ice]
// Prints `RESULT {"framesDecoded":…,"audioSamples":…,"framesRendered":…,"server":[…]}` and
// exits 0 once more than 25 video frames were decoded and audio samples were received;
// exits 1 on timeout or a player error. Ends the WHEP session (DELETE) before exiting.
// `server` is the server's session list (`/api/v1/webrtc/sessions`) read just before.
//
// --tcp-only: the UDP candidates are cut out of the offer and of the server's WHEP answer
//   on their way, so the only pairs left are Chromium's active ICE-TCP candidates with the
//   server's passive one.
// --restart-ice: once playing, the page restarts ICE (WHEP PATCH); success then also needs
//   the restart to have completed and 25 more frames decoded after it.
import { launchChromium, sessionPage } from './chromium.mjs';

const args = process.argv.slice(2);
const flags = new Set(args.filter(a => a.startsWith('--')));
const [url, timeoutArg] = args.filter(a => !a.startsWith('--'));
const timeoutMs = Number(timeoutArg || 60000);

const browser = await launchChromium();
let code = 1;
let last = {};
try {
  const page = await sessionPage(browser, url);
  page.on('console', m => console.error(`[page] ${m.text()}`));
  if (flags.has('--tcp-only')) {
    await page.route('**/whep/**', async route => {
      if (route.request().method() !== 'POST') return route.continue();
      // Chromium's UDP candidates go too: otherwise the server's own checks would find a
      // UDP pair (full ICE: both ends check).
      const offer = route.request().postData().split('\r\n')
        .filter(l => !(l.startsWith('a=candidate:') && / udp /i.test(l))).join('\r\n');
      const response = await route.fetch({ postData: offer });
      const body = (await response.text()).split('\r\n')
        .filter(l => !(l.startsWith('a=candidate:') && / udp /i.test(l))).join('\r\n');
      console.error(`[test] answer candidates: ${body.split('\r\n').filter(l => l.startsWith('a=candidate:')).join(' | ')}`);
      await route.fulfill({ response, body });
    });
  }
  await page.goto(url);
  const deadline = Date.now() + timeoutMs;
  let restartedAt = null;
  while (Date.now() < deadline) {
    last = await page.evaluate(async () => {
      const w = window.whep;
      const out = { error: w.error, session: w.session, framesRendered: w.framesRendered,
                    iceRestarts: w.player ? w.player.iceRestarts : 0,
                    iceServers: w.pc ? w.pc.getConfiguration().iceServers : [],
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
    const playing = last.framesDecoded > 25 && last.audioSamples > 0;
    if (playing && flags.has('--restart-ice') && restartedAt === null) {
      restartedAt = last.framesDecoded;
      await page.evaluate(() => window.whep.player.restartIce());
      console.error(`[test] ICE restarted after ${restartedAt} frames`);
      continue;
    }
    if (playing && (restartedAt === null || (last.iceRestarts >= 1 && last.framesDecoded > restartedAt + 25))) {
      last.framesBeforeRestart = restartedAt;
      code = 0;
      break;
    }
    await new Promise(r => setTimeout(r, 250));
  }
  last.server = await page.evaluate(async () => (await fetch('/api/v1/webrtc/sessions')).json());
  await page.evaluate(() => window.whepStop());
} catch (e) {
  console.error(e);
} finally {
  console.log('RESULT ' + JSON.stringify(last));
  await browser.close();
}
process.exit(code);
