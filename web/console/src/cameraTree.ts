// The camera tree: district → street → site (the enterprise, or the camera itself) →
// cameras, each level sorted by name. The tree shows each camera's fixed number (the
// inventory's `number`) next to its name; typing it on the video wall puts the camera on
// the focused tile.
import type { Camera } from './api';

export interface Site {
  key: string;
  name: string;
  cameras: Camera[];
}
export interface Street {
  name: string;
  sites: Site[];
}
export interface District {
  name: string;
  streets: Street[];
  online: number;
  total: number;
}

export function siteName(camera: Camera, enterprises: Map<string, string>): string {
  if (camera.enterprise_id) return enterprises.get(camera.enterprise_id) ?? camera.enterprise_id;
  return camera.name;
}

function matches(camera: Camera, enterprises: Map<string, string>, q: string): boolean {
  if (!q) return true;
  return [
    camera.id,
    camera.name,
    camera.division.district,
    camera.division.street ?? '',
    camera.enterprise_id ?? '',
    siteName(camera, enterprises),
  ].some((s) => s.toLowerCase().includes(q));
}

const byCollator = new Intl.Collator(['zh-CN', 'en']);

/** The tree of the cameras matching `q` (lower case; empty: all). */
export function buildTree(cameras: Camera[], enterprises: Map<string, string>, q: string): District[] {
  const districts = new Map<string, Map<string, Map<string, Site>>>();
  for (const camera of cameras) {
    if (!matches(camera, enterprises, q)) continue;
    const streets = districts.get(camera.division.district) ?? new Map<string, Map<string, Site>>();
    districts.set(camera.division.district, streets);
    const street = camera.division.street ?? '';
    const sites = streets.get(street) ?? new Map<string, Site>();
    streets.set(street, sites);
    const key = camera.enterprise_id ? `e:${camera.enterprise_id}` : `c:${camera.id}`;
    const site = sites.get(key) ?? { key, name: siteName(camera, enterprises), cameras: [] };
    sites.set(key, site);
    site.cameras.push(camera);
  }
  const sortBy = <T,>(items: T[], name: (x: T) => string) =>
    items.sort((a, b) => byCollator.compare(name(a), name(b)));
  return sortBy(
    [...districts].map(([name, streets]) => {
      const all = [...streets.values()].flatMap((s) => [...s.values()]).flatMap((s) => s.cameras);
      return {
        name,
        online: all.filter((c) => c.health?.state === 'online').length,
        total: all.length,
        streets: sortBy(
          [...streets].map(([street, sites]) => ({
            name: street,
            sites: sortBy(
              [...sites.values()].map((s) => ({ ...s, cameras: sortBy(s.cameras, (c) => c.name) })),
              (s) => s.name,
            ),
          })),
          (s) => s.name,
        ),
      };
    }),
    (d) => d.name,
  );
}

/** All cameras in the tree's order (top to bottom, as the tree lists them). */
export function cameraOrder(cameras: Camera[], enterprises: Map<string, string>): Camera[] {
  return buildTree(cameras, enterprises, '').flatMap((d) =>
    d.streets.flatMap((s) => s.sites.flatMap((site) => site.cameras)),
  );
}

/**
 * The favourite cameras (`favourites`, ids in the operator's order) that the session can
 * see and that match `q` (as [`buildTree`] filters). A favourite the user no longer sees
 * (outside the jurisdiction now, or deleted) is simply not listed.
 */
export function favouriteCameras(
  cameras: Camera[],
  favourites: string[],
  enterprises: Map<string, string>,
  q: string,
): Camera[] {
  const byId = new Map(cameras.map((c) => [c.id, c]));
  return favourites
    .map((id) => byId.get(id))
    .filter((c): c is Camera => c !== undefined && matches(c, enterprises, q));
}
