// Per-tile playback statistics from RTCPeerConnection.getStats(), sampled once a second:
// rates are computed from the counters' deltas between two samples.

/** What the stats overlay shows; `null` where the browser does not (yet) report it. */
export interface TileStats {
  /** Received media (video and audio, RTP payload and headers), kbit/s. */
  bitrateKbps: number | null;
  /** Frames decoded per second. */
  fps: number | null;
  /** The selected ICE candidate pair's current round-trip time, ms. */
  rttMs: number | null;
  /** Video packets lost over lost and received in the last interval, percent. */
  lossPercent: number | null;
  /** Mean time a video frame waited in the jitter buffer in the last interval, ms. */
  jitterBufferMs: number | null;
  /** Frames decoded since the connection started (cumulative). */
  framesDecoded: number;
  /** Decoded picture size, pixels. */
  width: number | null;
  height: number | null;
}

interface Counters {
  at: number;
  bytes: number;
  frames: number;
  lost: number;
  received: number;
  jbDelay: number;
  jbEmitted: number;
}

type Stat = Record<string, unknown> & { type: string; id: string };

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Turns successive getStats() reports of one connection into [`TileStats`]. */
export class StatsSampler {
  private last: Counters | null = null;

  /** The stats of `report` (taken at `now`, ms), rates against the previous sample. */
  sample(report: RTCStatsReport, now: number = performance.now()): TileStats {
    const all: Stat[] = [];
    report.forEach((s: Stat) => all.push(s));
    const inbound = all.filter((s) => s.type === 'inbound-rtp');
    const video = inbound.filter((s) => s.kind === 'video');
    const sum = (list: Stat[], key: string) => list.reduce((a, s) => a + (num(s[key]) ?? 0), 0);
    const counters: Counters = {
      at: now,
      bytes: sum(inbound, 'bytesReceived') + sum(inbound, 'headerBytesReceived'),
      frames: sum(video, 'framesDecoded'),
      lost: sum(video, 'packetsLost'),
      received: sum(video, 'packetsReceived'),
      jbDelay: sum(video, 'jitterBufferDelay'),
      jbEmitted: sum(video, 'jitterBufferEmittedCount'),
    };
    const stats: TileStats = {
      bitrateKbps: null,
      fps: null,
      rttMs: selectedRtt(all),
      lossPercent: null,
      jitterBufferMs: null,
      framesDecoded: counters.frames,
      width: num(video[0]?.frameWidth),
      height: num(video[0]?.frameHeight),
    };
    const prev = this.last;
    this.last = counters;
    if (prev && counters.at > prev.at) {
      const seconds = (counters.at - prev.at) / 1000;
      // A counter that went backwards: a new connection; no rate this time.
      if (counters.bytes >= prev.bytes) stats.bitrateKbps = ((counters.bytes - prev.bytes) * 8) / 1000 / seconds;
      if (counters.frames >= prev.frames) stats.fps = (counters.frames - prev.frames) / seconds;
      const lost = counters.lost - prev.lost;
      const received = counters.received - prev.received;
      if (received >= 0 && lost + received > 0) stats.lossPercent = (Math.max(0, lost) * 100) / (Math.max(0, lost) + received);
      else if (received === 0 && lost <= 0) stats.lossPercent = 0;
      const emitted = counters.jbEmitted - prev.jbEmitted;
      if (emitted > 0) stats.jitterBufferMs = ((counters.jbDelay - prev.jbDelay) * 1000) / emitted;
    }
    return stats;
  }

  /** Forgets the previous sample (a new connection). */
  reset(): void {
    this.last = null;
  }
}

/** `currentRoundTripTime` (ms) of the transport's selected candidate pair. */
function selectedRtt(all: Stat[]): number | null {
  const byId = new Map(all.map((s) => [s.id, s]));
  let pair: Stat | undefined;
  const transport = all.find((s) => s.type === 'transport' && typeof s.selectedCandidatePairId === 'string');
  if (transport) pair = byId.get(transport.selectedCandidatePairId as string);
  pair ??= all.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
  const rtt = num(pair?.currentRoundTripTime);
  return rtt === null ? null : rtt * 1000;
}
