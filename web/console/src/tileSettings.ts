// Console-wide settings of the video tiles, kept in localStorage: the latency mode every
// playing tile's receivers use, and whether the per-tile stats overlay shows.
import { ref, watch } from 'vue';

/** `low`: play as soon as decodable (jitter buffer target 0); `smooth`: buffer more. */
export type LatencyMode = 'low' | 'smooth';

/** `RTCRtpReceiver.jitterBufferTarget` of each mode, in milliseconds. */
export const JITTER_TARGET_MS: Record<LatencyMode, number> = { low: 0, smooth: 500 };

const STORAGE_KEY = 'watchpost.console.tiles';

function stored(): { latency: LatencyMode; stats: boolean } {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as {
      latency?: unknown;
      stats?: unknown;
    } | null;
    return {
      latency: saved?.latency === 'low' ? 'low' : 'smooth',
      stats: saved?.stats === true,
    };
  } catch {
    return { latency: 'smooth', stats: false };
  }
}

const initial = stored();
/** The latency mode of every tile (applied at once to the playing ones). */
export const latencyMode = ref<LatencyMode>(initial.latency);
/** Whether the tiles show their stats overlay. */
export const statsOverlay = ref<boolean>(initial.stats);

watch([latencyMode, statsOverlay], () => {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ latency: latencyMode.value, stats: statsOverlay.value }));
  } catch {
    // not kept: still applies to this page
  }
});

/** The legacy Chromium attribute (seconds), next to the standard `jitterBufferTarget`. */
interface LegacyReceiver {
  playoutDelayHint?: number | null;
}

/**
 * Sets `mode`'s jitter buffer target on every receiver of `pc`: `jitterBufferTarget` in
 * milliseconds and, where the browser has it, `playoutDelayHint` in seconds. A browser
 * without either plays with its own default.
 */
export function applyLatency(pc: RTCPeerConnection, mode: LatencyMode): void {
  const ms = JITTER_TARGET_MS[mode];
  for (const receiver of pc.getReceivers()) {
    try {
      if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = ms;
      if ('playoutDelayHint' in receiver) (receiver as RTCRtpReceiver & LegacyReceiver).playoutDelayHint = ms / 1000;
    } catch (e) {
      console.warn(`cannot set the jitter buffer target: ${String(e)}`);
    }
  }
}

/** The video receiver's `jitterBufferTarget` now (ms), `null` when unset or unsupported. */
export function jitterBufferTarget(pc: RTCPeerConnection | null): number | null {
  const receiver = pc?.getReceivers().find((r) => r.track.kind === 'video');
  if (!receiver || !('jitterBufferTarget' in receiver)) return null;
  return receiver.jitterBufferTarget ?? null;
}
