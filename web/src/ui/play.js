// Plays the path named by this page's URL after /play/.
import { whepPlay } from '/ui/whep.js';
import { requireSession } from '/ui/app.js';

const path = decodeURIComponent(location.pathname.replace(/^\/play\//, ''));
document.getElementById('title').textContent = path;
const status = document.getElementById('status');
const video = document.getElementById('video');
window.whep = { path, session: null, error: null, pc: null, framesRendered: 0 };
let player = null;

// Ends the session (DELETE) and closes the peer connection.
window.whepStop = async () => { if (player) await player.stop(); };
window.addEventListener('pagehide', () => { if (player) player.stop(true); });

// Not logged in (or the session expired): the login form, then back here.
await requireSession();
try {
  player = await whepPlay(path, video, state => { status.textContent = state; });
  window.whep.session = player.session;
  window.whep.pc = player.pc;
  window.whep.player = player;
  const onFrame = () => { window.whep.framesRendered++; video.requestVideoFrameCallback(onFrame); };
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
} catch (e) {
  window.whep.error = String(e);
  status.textContent = String(e);
  status.className = 'bad';
}
