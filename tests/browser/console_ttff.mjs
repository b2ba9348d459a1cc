// Time to first frame of a warm console tile, for `cargo xtask bench` (CONSOLE; see
// xtask/src/bench_console.rs). Headless Chromium logs in to the operator console (/console)
// through its login form, layout 4, tile 0 plays the "warm" camera (its page, player and
// WebRTC stack are up) and tiles 1 and 2 play further cameras. Then, trial after trial, the
// keyboard puts another camera on tile 0: focus on tile 0, the camera's number as the tree
// shows it, Enter. Measured in the page: from the Enter keydown (`event.timeStamp`) to the
// first frame of the new stream presented by a `<video>` of tile 0
// (`requestVideoFrameCallback` metadata `presentationTime`; a frame counts only once the
// video's `srcObject` is not one of those it had before the key, or carries a video track
// it did not have, and the tile's `data-path` has changed), confirmed afterwards by
// `window.consoleTiles[0]` (the new path, `framesDecoded` > 0). Two cases:
//
// - warm: the chosen camera's hub path is already running (tile 1 or 2 plays it),
// - cold: the chosen camera's path is idle on the server (GET /api/v1/paths/<path> says
//   `idle`, waited for before each trial): the RTSP pull and the wait for a key frame are
//   part of the time.
//
// Prints one line:
//
//   RESULT {"browser": .., "numbers": {id: n}, "warm_smooth": [trial, ..], "cold_smooth": [..],
//           "warm_low": [..], "cold_low": [..]}
//
// where a trial is {camera, path, state_before, readers_before, ttff_ms, callback_ms,
// frames_confirmed, width, height, phases, receiver} or {camera, path, state_before, error}; phases
// (ms after Enter, from resource timing and the video's `loadstart`): options_sent,
// options_answered (the WHEP OPTIONS for ICE servers), offer_posted (after ICE gathering),
// answer_received, stream_attached (the new srcObject), connected (the new
// RTCPeerConnection's `connectionState` became `connected`, ICE and DTLS done; when it was
// before the page saw the connection, the moment it saw it: an upper bound), first_frame;
// receiver: the new connection's video `inbound-rtp` stats once tile 0 reports frames
// (pli, fir, nack, frames_received, frames_decoded, key_frames_decoded, frames_dropped).
//
// Usage: node console_ttff.mjs CONSOLE_URL TIMEOUT_MS PLAN_JSON
//   PLAN_JSON: {"username": .., "warm_tile": id, "others": [id, id], "warm": [id, ..],
//               "cold": [id, ..], "trials": n}
//   The password comes from $WATCHPOST_PASSWORD (never the command line).
import { launchChromium, loginThroughForm } from './chromium.mjs';

const [url, timeoutArg, planArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);
const plan = JSON.parse(planArg);
const password = process.env.WATCHPOST_PASSWORD ?? '';
/** How long one switch may take to its first frame before the trial counts as failed. */
const TRIAL_MS = 30000;
/** Pause after a switch's first frame before the next trial (lets the tile settle). */
const SETTLE_MS = 500;

const pathOf = id => `cam/${id}/main`;
const sleep = ms => new Promise(r => setTimeout(r, ms));

const look = page => page.evaluate(() => (window.consoleTiles || []).map(t => ({
  index: t.index, camera: t.camera, path: t.path, state: t.state, frames: t.framesDecoded,
})));

async function until(what, check, ms = timeoutMs) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The hub path's state as the server reports it (`idle`, `starting`, `ready`, `retrying`). */
async function pathState(page, origin, path) {
  const r = await page.request.get(`${origin}/api/v1/paths/${path}`);
  if (!r.ok()) throw new Error(`GET /api/v1/paths/${path}: ${r.status()}`);
  const body = await r.json();
  return { state: body.state, readers: body.readers };
}

/** Focus on `index` (a click on the tile), the camera's number, Enter. */
async function keyCamera(page, numbers, index, camera) {
  const focused = await page.getAttribute('.tile[data-focused="true"]', 'data-index');
  if (focused !== String(index)) {
    await page.click(`.tile[data-index="${index}"]`);
  }
  await page.keyboard.type(String(numbers[camera]));
  await page.keyboard.press('Enter');
}

/**
 * Arms the in-page measurement for tile 0: remembers the streams its videos show now and
 * the current path, records the Enter keydown's time and the first frame of a new stream.
 */
function arm(page) {
  return page.evaluate(() => {
    const tile = document.querySelector('.tile[data-index="0"]');
    performance.clearResourceTimings();
    const videos = () => [...tile.querySelectorAll('video')];
    const oldStreams = new Set(videos().map(v => v.srcObject).filter(Boolean));
    const oldTracks = new Set(videos().flatMap(v =>
      v.srcObject instanceof MediaStream ? v.srcObject.getVideoTracks().map(t => t.id) : []));
    const oldPath = tile.dataset.path;
    const m = {
      keyAt: null, attachAt: null, frameAt: null, callbackAt: null, width: 0, height: 0, done: false,
      connectedAt: null,
    };
    const tile0 = () => (window.consoleTiles || []).find(t => t.index === 0);
    const oldPc = tile0()?.pc ?? null;
    const hooked = new WeakSet();
    // The new player's RTCPeerConnection shows in window.consoleTiles once its WHEP answer
    // is applied; its ICE and DTLS progress from then on is timed by its events.
    const hookPc = () => {
      const pc = tile0()?.pc;
      if (!pc || pc === oldPc || hooked.has(pc) || m.keyAt === null) return;
      hooked.add(pc);
      // Connected already (ICE and DTLS on loopback can finish while the console applies
      // the answer): now is an upper bound.
      if (pc.connectionState === 'connected') m.connectedAt = performance.now();
      pc.addEventListener('connectionstatechange', e => {
        if (m.connectedAt === null && pc.connectionState === 'connected') m.connectedAt = e.timeStamp;
      });
    };
    window.__ttff = m;
    const onKey = e => {
      if (e.key === 'Enter' && m.keyAt === null) m.keyAt = e.timeStamp;
    };
    window.addEventListener('keydown', onKey, { capture: true });
    const isNew = v => {
      const s = v.srcObject;
      if (!(s instanceof MediaStream)) return false;
      return !oldStreams.has(s) || s.getVideoTracks().some(t => !oldTracks.has(t.id));
    };
    const watched = new WeakSet();
    const watch = v => {
      watched.add(v);
      // A new srcObject starts the element's load algorithm: `loadstart`.
      v.addEventListener('loadstart', e => {
        if (m.keyAt !== null && m.attachAt === null && isNew(v)) m.attachAt = e.timeStamp;
      });
      const cb = (now, meta) => {
        if (m.done) return;
        if (m.keyAt !== null && isNew(v) && tile.dataset.path !== oldPath) {
          m.frameAt = meta.presentationTime;
          m.callbackAt = now;
          m.width = meta.width;
          m.height = meta.height;
          m.done = true;
          window.removeEventListener('keydown', onKey, { capture: true });
          return;
        }
        v.requestVideoFrameCallback(cb);
      };
      v.requestVideoFrameCallback(cb);
    };
    // Videos that appear later (a player that brings its own element) are watched too.
    const scan = () => {
      if (m.done) return;
      hookPc();
      for (const v of videos()) if (!watched.has(v)) watch(v);
      requestAnimationFrame(scan);
    };
    scan();
  });
}

async function trial(page, origin, numbers, camera, wantState) {
  const path = pathOf(camera);
  const before = await pathState(page, origin, path);
  const row = { camera, path, state_before: before.state, readers_before: before.readers };
  if (before.state !== wantState) {
    row.error = `the path is ${before.state}, not ${wantState}`;
    return row;
  }
  try {
    await arm(page);
    await keyCamera(page, numbers, 0, camera);
    const m = await until(`the first frame of ${path} on tile 0`, () =>
      page.evaluate(() => (window.__ttff.done ? window.__ttff : null)), TRIAL_MS);
    // What the console itself says: tile 0 shows the new path and decodes it.
    const tile = (await until(`tile 0 to report decoded frames of ${path}`, async () =>
      (await look(page)).find(t => t.index === 0 && t.path === path && t.frames > 0), TRIAL_MS));
    // Where the time went, from the page's resource timing (the console's WHEP OPTIONS,
    // then its POST of the offer once ICE gathering completed) and the new stream's
    // `loadstart`; milliseconds after the Enter keydown.
    const phases = await page.evaluate(({ path, m }) => {
      const whep = performance.getEntriesByType('resource')
        .filter(e => new URL(e.name).pathname === `/whep/${path}` && e.startTime >= m.keyAt);
      const at = t => (t === undefined || t === null ? null : t - m.keyAt);
      return {
        options_sent: at(whep[0]?.startTime), options_answered: at(whep[0]?.responseEnd),
        offer_posted: at(whep[1]?.startTime), answer_received: at(whep[1]?.responseEnd),
        stream_attached: at(m.attachAt), connected: at(m.connectedAt),
        first_frame: at(m.frameAt),
      };
    }, { path, m });
    // The new connection's video receiver after the first frame: key-frame requests it sent
    // (PLI, FIR), NACKs, and what it received and decoded.
    const receiver = await page.evaluate(async () => {
      const pc = (window.consoleTiles || []).find(t => t.index === 0)?.pc;
      if (!pc) return null;
      let out = null;
      (await pc.getStats()).forEach(s => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out = {
            pli: s.pliCount ?? null, fir: s.firCount ?? null, nack: s.nackCount ?? null,
            frames_received: s.framesReceived ?? null, frames_decoded: s.framesDecoded ?? null,
            key_frames_decoded: s.keyFramesDecoded ?? null, frames_dropped: s.framesDropped ?? null,
          };
        }
      });
      return out;
    });
    Object.assign(row, {
      phases,
      receiver,
      ttff_ms: m.frameAt - m.keyAt,
      callback_ms: m.callbackAt - m.keyAt,
      frames_confirmed: tile.frames,
      width: m.width,
      height: m.height,
    });
  } catch (e) {
    row.error = String(e && e.message || e);
  }
  await sleep(SETTLE_MS);
  return row;
}

const browser = await launchChromium();
let code = 1;
try {
  const origin = new URL(url).origin;
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('pageerror', e => console.error(`[page error] ${e}`));
  await page.goto(url);
  await loginThroughForm(page, plan.username, password, timeoutMs);

  // The numbers the tree shows (tree order).
  const all = [plan.warm_tile, ...plan.others, ...plan.warm, ...plan.cold];
  const numbers = {};
  for (const id of new Set(all)) {
    const sel = `button[data-camera="${id}"] [data-test=number]`;
    await page.waitForSelector(sel, { timeout: timeoutMs });
    numbers[id] = Number((await page.textContent(sel)).trim());
  }

  // Layout 4: tiles 1, 2 play the cameras the warm case switches to, tile 0 the warm camera.
  await page.click('button[data-layout="4"]');
  for (const [i, id] of plan.others.entries()) await keyCamera(page, numbers, i + 1, id);
  await keyCamera(page, numbers, 0, plan.warm_tile);
  const playing = [plan.warm_tile, ...plan.others];
  await until('tiles 0.. to play', async () => {
    const tiles = await look(page);
    return playing.every((id, i) => tiles.some(t =>
      t.index === i && t.path === pathOf(id) && t.state === 'playing' && t.frames > 0));
  });

  // Each latency mode of the console's switch (tileSettings.ts: smooth = a 500 ms jitter
  // buffer target, low = 0), warm then cold.
  const cases = {};
  for (const mode of ['smooth', 'low']) {
    await until(`latency mode ${mode}`, async () => {
      const now = await page.getAttribute('[data-test=latency-toggle]', 'data-mode');
      if (now === mode) return true;
      await page.click('[data-test=latency-toggle]');
      return false;
    });
    const warm = [];
    for (let i = 0; i < plan.trials; i++) {
      const id = plan.warm[i % plan.warm.length];
      warm.push(await trial(page, origin, numbers, id, 'ready'));
      console.error(`warm ${mode} ${i + 1}/${plan.trials}: ${JSON.stringify(warm.at(-1))}`);
    }
    const cold = [];
    for (let i = 0; i < plan.trials; i++) {
      const id = plan.cold[i % plan.cold.length];
      // The path must be idle on the server: tile 0 left it at most a linger ago.
      await until(`${pathOf(id)} to go idle`, async () =>
        (await pathState(page, origin, pathOf(id))).state === 'idle');
      cold.push(await trial(page, origin, numbers, id, 'idle'));
      console.error(`cold ${mode} ${i + 1}/${plan.trials}: ${JSON.stringify(cold.at(-1))}`);
    }
    cases[`warm_${mode}`] = warm;
    cases[`cold_${mode}`] = cold;
  }
  console.log('RESULT ' + JSON.stringify({
    browser: browser.version(), viewport: '1280x800', numbers, ...cases,
  }));
  code = 0;
} catch (e) {
  console.error(String(e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(code);
