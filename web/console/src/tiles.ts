// `window.consoleTiles`: what each tile on screen shows, for tests and for debugging from
// the browser's console: per tile its index, camera, path, state (connecting, playing,
// reconnecting, offline, paused, idle), the offline reason, its RTCPeerConnection and WHEP
// session, the frames its video decoded, its stats (see tileStats.ts), its digital zoom
// and the latency mode with the receiver's jitter buffer target read back.
// `window.consoleTilesAll` also lists the tiles hidden behind a maximised one (kept
// mounted, paused after the grace).
import type { LatencyMode } from './tileSettings';
import type { TileStats } from './tileStats';
import type { Zoom } from './zoom';

export interface TileInfo {
  readonly index: number;
  readonly camera: string | null;
  readonly path: string | null;
  readonly state: string;
  readonly reason: string;
  readonly maximised: boolean;
  /** Hidden behind the maximised tile. */
  readonly covered: boolean;
  /** Out of sight past the grace: no WHEP session. */
  readonly paused: boolean;
  readonly pc: RTCPeerConnection | null;
  /** The WHEP session's resource URL (`/whep/sessions/{id}`), while connected. */
  readonly session: string | null;
  readonly framesDecoded: number;
  /** The last once-a-second sample; `null` without a connection. */
  readonly stats: TileStats | null;
  readonly zoom: Zoom;
  readonly latencyMode: LatencyMode;
  /** The video receiver's `jitterBufferTarget` (ms), `null` when none is set. */
  readonly jitterBufferTarget: number | null;
  /** Back to the whole picture. */
  resetZoom(): void;
}

const registry = new Map<number, TileInfo>();

export function registerTile(info: TileInfo): () => void {
  registry.set(info.index, info);
  return () => {
    if (registry.get(info.index) === info) registry.delete(info.index);
  };
}

/** Resets the digital zoom of tile `index` (the keyboard's `0`). */
export function resetTileZoom(index: number): void {
  registry.get(index)?.resetZoom();
}

declare global {
  interface Window {
    consoleTiles: TileInfo[];
    consoleTilesAll: TileInfo[];
  }
}

const sorted = () => [...registry.values()].sort((a, b) => a.index - b.index);

Object.defineProperty(window, 'consoleTiles', {
  configurable: true,
  get: () => sorted().filter((t) => !t.covered),
});
Object.defineProperty(window, 'consoleTilesAll', {
  configurable: true,
  get: sorted,
});
