// The WHEP client of the console: a TypeScript port of the server's /ui/whep.js (same
// protocol behaviour: ICE servers from `OPTIONS` Link headers, the offer POSTed once ICE
// gathering completes, ICE restart in place with a PATCH when the connection breaks).
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
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc);
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
