// `window.consoleTiles`: what each visible tile shows, for tests and for debugging from
// the browser's console: per tile its index, camera, path, state (connecting, playing,
// reconnecting, offline, idle), the offline reason, its RTCPeerConnection and the frames
// its video decoded.

export interface TileInfo {
  readonly index: number;
  readonly camera: string | null;
  readonly path: string | null;
  readonly state: string;
  readonly reason: string;
  readonly maximised: boolean;
  readonly pc: RTCPeerConnection | null;
  readonly framesDecoded: number;
}

const registry = new Map<number, TileInfo>();

export function registerTile(info: TileInfo): () => void {
  registry.set(info.index, info);
  return () => {
    if (registry.get(info.index) === info) registry.delete(info.index);
  };
}

declare global {
  interface Window {
    consoleTiles: TileInfo[];
  }
}

Object.defineProperty(window, 'consoleTiles', {
  configurable: true,
  get: () => [...registry.values()].sort((a, b) => a.index - b.index),
});
