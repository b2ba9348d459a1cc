// The WHEP client of the console: a TypeScript port of the server's /ui/whep.js (same
// protocol behaviour as far as ICE servers from `OPTIONS` Link headers and ICE restart in
// place with a PATCH when the connection breaks go; unlike it, the offer is POSTed at once
// and the candidates trickle after it, see [`trickleCandidates`]).
// The session cookie authenticates the requests.

const FRAG = 'application/trickle-ice-sdpfrag';
const RESTART_AFTER_MS = 2000;
const MAX_RESTARTS = 5;

/** A WHEP request the server refused: its status and message. */
export class WhepError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`WHEP ${status}: ${detail}`);
  }
}

export type PlayerState = RTCPeerConnectionState | 'restarting ICE' | 'ended';

export interface Player {
  pc: RTCPeerConnection;
  session: string | null;
  etag: string | null;
  iceRestarts: number;
  closed: boolean;
  restartIce(): Promise<void>;
  stop(keepalive?: boolean): Promise<void>;
}

function waitGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
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

/** RTCIceServer entries from `Link` headers (fetch joins several with ", "). */
export function iceServersFromLinks(header: string | null): RTCIceServer[] {
  if (!header) return [];
  const servers: RTCIceServer[] = [];
  for (const link of header.split(/,\s*(?=<)/)) {
    const m = link.match(/^\s*<([^>]+)>(.*)$/);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const p of m[2].matchAll(/;\s*([\w-]+)\s*=\s*"([^"]*)"/g)) params[p[1].toLowerCase()] = p[2];
    if (params.rel !== 'ice-server') continue;
    const server: RTCIceServer = { urls: m[1] };
    if (params.username !== undefined) server.username = params.username;
    if (params.credential !== undefined) server.credential = params.credential;
    servers.push(server);
  }
  return servers;
}

async function iceServers(path: string): Promise<RTCIceServer[]> {
  try {
    const r = await fetch('/whep/' + path, { method: 'OPTIONS' });
    return iceServersFromLinks(r.headers.get('Link'));
  } catch {
    return [];
  }
}

/** The ICE part of an SDP as a trickle-ICE fragment (RFC 8840). */
export function iceFragment(sdp: string): string {
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag:'));
  const pwd = lines.find((l) => l.startsWith('a=ice-pwd:'));
  if (ufrag && pwd) out.push(ufrag, pwd);
  for (const l of lines) {
    if (l.startsWith('m=') || l.startsWith('a=mid:') || l.startsWith('a=candidate:') || l === 'a=end-of-candidates') {
      out.push(l);
    }
  }
  return out.join('\r\n') + '\r\n';
}

/** `answer` with the credentials and candidates of the server's restart fragment. */
export function applyFragment(answer: string, fragment: string): string {
  const frag = fragment.split(/\r?\n/);
  const ufrag = frag.find((l) => l.startsWith('a=ice-ufrag:'));
  const pwd = frag.find((l) => l.startsWith('a=ice-pwd:'));
  const candidates = [...new Set(frag.filter((l) => l.startsWith('a=candidate:')))];
  const out: string[] = [];
  for (const l of answer.split(/\r?\n/)) {
    if (l === '') continue;
    if (l.startsWith('a=candidate:') || l === 'a=end-of-candidates') continue;
    if (l.startsWith('a=ice-ufrag:') && ufrag) {
      out.push(ufrag);
      continue;
    }
    if (l.startsWith('a=ice-pwd:') && pwd) {
      out.push(pwd);
      continue;
    }
    out.push(l);
    if (l.startsWith('a=mid:')) out.push(...candidates, 'a=end-of-candidates');
  }
  return out.join('\r\n') + '\r\n';
}

/**
 * Sends the candidates the browser gathers after the offer went out, as one trickle-ICE
 * fragment (RFC 8840, ending with `a=end-of-candidates`) once gathering completes: a
 * `PATCH` of the session with the credentials of the offer and `If-Match` of the ICE
 * session the offer started, so that it can never be mistaken for an ICE restart (a
 * restart in between makes it stale: `412`, nothing to do). Failures are logged only: the
 * browser's own checks connect without it; it lets the server check towards the browser
 * too (a browser behind NAT whose first checks were lost).
 */
async function trickleCandidates(player: Player): Promise<void> {
  const { pc } = player;
  const offered = pc.localDescription?.sdp ?? '';
  const etag = player.etag;
  await waitGathering(pc);
  if (player.closed || !player.session || !etag || player.iceRestarts > 0) return;
  const now = pc.localDescription?.sdp ?? '';
  const ufrag = (sdp: string) => sdp.split(/\r?\n/).find((l) => l.startsWith('a=ice-ufrag:'));
  if (ufrag(now) !== ufrag(offered)) return; // restarted meanwhile
  let fragment = iceFragment(now);
  if (!fragment.includes('a=candidate:')) return;
  if (!fragment.includes('a=end-of-candidates')) fragment += 'a=end-of-candidates\r\n';
  try {
    const r = await fetch(player.session, {
      method: 'PATCH',
      headers: { 'Content-Type': FRAG, 'If-Match': etag },
      body: fragment,
    });
    if (r.status !== 204 && r.status !== 412 && r.status !== 404) {
      console.warn(`WHEP trickle: ${r.status} ${await r.text().catch(() => '')}`);
    }
  } catch (e) {
    console.warn(`WHEP trickle: ${String(e)}`);
  }
}

/**
 * Plays `path` into `video`; `onState` is told the connection state (and `restarting ICE`,
 * `ended`). Throws a [`WhepError`] when WHEP answers an error.
 */
export async function whepPlay(
  path: string,
  video: HTMLVideoElement,
  onState: (state: PlayerState) => void = () => {},
): Promise<Player> {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: await iceServers(path) });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (ev) => {
    stream.addTrack(ev.track);
    video.srcObject = stream;
  };
  let res: Response;
  try {
    // Trickle ICE: the offer goes out at once, without waiting for the browser to gather
    // its candidates (about 150 ms even on loopback, most of a switch's time); the
    // browser's checks to the server's candidates (the answer lists them all) connect,
    // the server learning the browser's address from them, and the gathered candidates
    // follow in one PATCH ([`trickleCandidates`]).
    await pc.setLocalDescription(await pc.createOffer());
    res = await fetch('/whep/' + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription!.sdp,
    });
  } catch (e) {
    pc.close();
    throw e;
  }
  if (res.status !== 201) {
    pc.close();
    const text = await res.text().catch(() => '');
    let detail = text;
    try {
      detail = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: the text itself
    }
    throw new WhepError(res.status, detail);
  }
  const session = res.headers.get('Location');
  let restarting: Promise<void> | null = null;
  let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  const player: Player = {
    pc,
    session,
    etag: res.headers.get('ETag'),
    iceRestarts: 0,
    closed: false,
    restartIce() {
      if (!restarting) {
        restarting = (async () => {
          onState('restarting ICE');
          await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
          await waitGathering(pc);
          const r = await fetch(player.session!, {
            method: 'PATCH',
            headers: { 'Content-Type': FRAG, 'If-Match': '*' },
            body: iceFragment(pc.localDescription!.sdp),
          });
          if (r.status !== 200) {
            if (r.status === 404) {
              player.closed = true;
              pc.close();
              onState('ended');
            }
            throw new WhepError(r.status, await r.text());
          }
          player.etag = r.headers.get('ETag');
          const sdp = applyFragment(pc.remoteDescription!.sdp, await r.text());
          await pc.setRemoteDescription({ type: 'answer', sdp });
          player.iceRestarts++;
        })().finally(() => {
          restarting = null;
        });
      }
      return restarting;
    },
    async stop(keepalive = false) {
      player.closed = true;
      clearTimeout(disconnectedTimer);
      if (player.session) {
        await fetch(player.session, { method: 'DELETE', keepalive }).catch(() => {});
      }
      pc.close();
    },
  };
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  void trickleCandidates(player);

  const restartLater = () => {
    if (player.closed || player.iceRestarts >= MAX_RESTARTS) {
      if (!player.closed) onState('failed');
      return;
    }
    player.restartIce().catch((e) => console.warn(String(e)));
  };
  pc.oniceconnectionstatechange = () => {
    clearTimeout(disconnectedTimer);
    if (pc.iceConnectionState === 'failed') restartLater();
    if (pc.iceConnectionState === 'disconnected') {
      disconnectedTimer = setTimeout(restartLater, RESTART_AFTER_MS);
    }
  };
  pc.onconnectionstatechange = () => onState(pc.connectionState);
  return player;
}
