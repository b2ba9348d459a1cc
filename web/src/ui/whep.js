// A minimal WHEP client (plain JS, no build step), shared by the pages of the web UI.
//
// - The STUN/TURN servers come from the server first: `OPTIONS` answers one `Link: <url>;
//   rel="ice-server"` per configured URL (RFC 9725 §4.6), with TURN credentials.
// - The offer is POSTed once ICE gathering completes (the server's answer carries all its
//   candidates, UDP and ICE-TCP, so nothing needs to trickle either way).
// - When the connection breaks (ICE `failed`, or `disconnected` for RESTART_AFTER_MS: a
//   vehicle's 4G link changed, a laptop moved to another network), the client restarts
//   ICE in place with a WHEP PATCH (RFC 9725 §4.3): same session, same DTLS/SRTP, new
//   ICE credentials and candidate pairs. If the session is gone (404) the player reports
//   `ended` and the page decides whether to play again.

const FRAG = 'application/trickle-ice-sdpfrag';
const RESTART_AFTER_MS = 2000;
const MAX_RESTARTS = 5;

function waitGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(resolve => {
    const done = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', done);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, 3000); // use what we have
  });
}

// RTCIceServer entries from `Link` headers (fetch joins several with ", ").
export function iceServersFromLinks(header) {
  if (!header) return [];
  const servers = [];
  for (const link of header.split(/,\s*(?=<)/)) {
    const m = link.match(/^\s*<([^>]+)>(.*)$/);
    if (!m) continue;
    const params = {};
    for (const p of m[2].matchAll(/;\s*([\w-]+)\s*=\s*"([^"]*)"/g)) params[p[1].toLowerCase()] = p[2];
    if (params.rel !== 'ice-server') continue;
    const server = { urls: m[1] };
    if (params.username !== undefined) server.username = params.username;
    if (params.credential !== undefined) server.credential = params.credential;
    servers.push(server);
  }
  return servers;
}

async function iceServers(path) {
  try {
    const r = await fetch('/whep/' + path, { method: 'OPTIONS' });
    return iceServersFromLinks(r.headers.get('Link'));
  } catch (e) {
    return [];
  }
}

// The ICE part of an SDP as a trickle-ICE fragment (RFC 8840): credentials, then per
// media section its m= line, mid and candidates.
export function iceFragment(sdp) {
  const lines = sdp.split(/\r?\n/);
  const out = [];
  const ufrag = lines.find(l => l.startsWith('a=ice-ufrag:'));
  const pwd = lines.find(l => l.startsWith('a=ice-pwd:'));
  if (ufrag && pwd) out.push(ufrag, pwd);
  for (const l of lines) {
    if (l.startsWith('m=') || l.startsWith('a=mid:') || l.startsWith('a=candidate:') ||
        l === 'a=end-of-candidates') out.push(l);
  }
  return out.join('\r\n') + '\r\n';
}

// `answer` with the credentials and candidates of the server's restart fragment.
export function applyFragment(answer, fragment) {
  const frag = fragment.split(/\r?\n/);
  const ufrag = frag.find(l => l.startsWith('a=ice-ufrag:'));
  const pwd = frag.find(l => l.startsWith('a=ice-pwd:'));
  const candidates = [...new Set(frag.filter(l => l.startsWith('a=candidate:')))];
  const out = [];
  for (const l of answer.split(/\r?\n/)) {
    if (l === '') continue;
    if (l.startsWith('a=candidate:') || l === 'a=end-of-candidates') continue;
    if (l.startsWith('a=ice-ufrag:') && ufrag) { out.push(ufrag); continue; }
    if (l.startsWith('a=ice-pwd:') && pwd) { out.push(pwd); continue; }
    out.push(l);
    if (l.startsWith('a=mid:')) out.push(...candidates, 'a=end-of-candidates');
  }
  return out.join('\r\n') + '\r\n';
}

// Plays `path` into `video`. Returns { pc, session, iceRestarts, restartIce(), stop() };
// `onState(text)` is told the connection state (and `restarting ICE`, `ended`). Throws with
// the server's message when WHEP answers an error. `token` (optional): a stream token sent
// as `Authorization: Bearer` on the POST, PATCH and DELETE (pages without a session: the
// wall monitor page); without it the session cookie is used.
export async function whepPlay(path, video, onState = () => {}, token = null) {
  const auth = token ? { Authorization: 'Bearer ' + token } : {};
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: await iceServers(path) });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = ev => { stream.addTrack(ev.track); video.srcObject = stream; };
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathering(pc);
  const res = await fetch('/whep/' + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', ...auth },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) {
    pc.close();
    throw new Error(`WHEP ${res.status}: ${await res.text()}`);
  }
  const player = {
    pc, session: res.headers.get('Location'), etag: res.headers.get('ETag'),
    iceRestarts: 0, closed: false,
  };
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });

  // ICE restart through PATCH; resolves once the new answer is applied.
  let restarting = null;
  player.restartIce = () => {
    if (!restarting) {
      restarting = (async () => {
        onState('restarting ICE');
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
        await waitGathering(pc);
        const r = await fetch(player.session, {
          method: 'PATCH',
          headers: { 'Content-Type': FRAG, 'If-Match': '*', ...auth },
          body: iceFragment(pc.localDescription.sdp),
        });
        if (r.status !== 200) {
          if (r.status === 404) { player.closed = true; pc.close(); onState('ended'); }
          throw new Error(`ICE restart: WHEP ${r.status}: ${await r.text()}`);
        }
        player.etag = r.headers.get('ETag');
        const sdp = applyFragment(pc.remoteDescription.sdp, await r.text());
        await pc.setRemoteDescription({ type: 'answer', sdp });
        player.iceRestarts++;
      })().finally(() => { restarting = null; });
    }
    return restarting;
  };

  let disconnectedTimer = null;
  const restartLater = () => {
    if (player.closed || player.iceRestarts >= MAX_RESTARTS) return;
    player.restartIce().catch(e => console.warn(String(e)));
  };
  pc.oniceconnectionstatechange = () => {
    clearTimeout(disconnectedTimer);
    if (pc.iceConnectionState === 'failed') restartLater();
    if (pc.iceConnectionState === 'disconnected') {
      disconnectedTimer = setTimeout(restartLater, RESTART_AFTER_MS);
    }
  };
  pc.onconnectionstatechange = () => onState(pc.connectionState);

  // Ends the session (DELETE) and closes the peer connection.
  player.stop = async (keepalive = false) => {
    player.closed = true;
    clearTimeout(disconnectedTimer);
    if (player.session) await fetch(player.session, { method: 'DELETE', keepalive, headers: auth }).catch(() => {});
    pc.close();
  };
  return player;
}
