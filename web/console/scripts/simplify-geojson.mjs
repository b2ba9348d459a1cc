// Prepares a district boundary file for the console's offline map (public/map/, see its
// README.md): keeps the features asked for, simplifies every ring (Douglas–Peucker, in
// degrees), rounds coordinates to 1e-5° (~1 m), writes `name_zh` / `name_en` properties
// and the attribution the map shows, and refuses output over the size limit.
//
// Usage:
//   node scripts/simplify-geojson.mjs IN.geojson OUT.geojson [--tolerance=0.0005]
//     [--name-zh=PROP] [--name-en=PROP] [--filter=PROP=VALUE ...] [--attribution=TEXT]
//     [--datum=TEXT] [--source=TEXT] [--max-bytes=300000] [--join=SEATS.json]
//
// --join names the features from the district seats file (public/map/
// beijing-district-seats.json): a feature whose English name (--name-en) is a seat's
// `name_en`, optionally followed by " District" / " County", takes that seat's `id` (the
// GB/T 2260 code), `name_zh` and `name_en`. With --join every feature must match exactly
// one seat and every seat one feature, else nothing is written.
//
// The input must be a GeoJSON FeatureCollection in WGS-84 longitude/latitude (never
// GCJ-02 or BD-09: Watchpost's positions are WGS-84). Prints the kept districts' names,
// vertex counts before and after, and the output's size.
import { readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const positional = args.filter((a) => !a.startsWith('--'));
const option = (name, fallback) => {
  const found = args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
  return found.length ? found : fallback;
};
if (positional.length !== 2) {
  console.error('usage: simplify-geojson.mjs IN.geojson OUT.geojson [--tolerance=DEG] [--name-zh=PROP] ' +
    '[--name-en=PROP] [--filter=PROP=VALUE] [--attribution=TEXT] [--datum=TEXT] [--max-bytes=N]');
  process.exit(2);
}
const [input, output] = positional;
const tolerance = Number(option('tolerance', ['0.0005'])[0]);
const nameZh = option('name-zh', ['name'])[0];
const nameEn = option('name-en', ['name:en'])[0];
const filters = option('filter', []).map((f) => {
  const i = f.indexOf('=');
  if (i < 1) throw new Error(`--filter=${f}: expected PROP=VALUE`);
  return [f.slice(0, i), f.slice(i + 1)];
});
const attribution = option('attribution', [''])[0];
const datum = option('datum', ['WGS-84 (EPSG:4326)'])[0];
const maxBytes = Number(option('max-bytes', ['300000'])[0]);
const sourceNote = option('source', [''])[0];
const joinFile = option('join', [''])[0];
const seats = joinFile ? JSON.parse(readFileSync(joinFile, 'utf8')).seats : null;
if (seats && !Array.isArray(seats)) throw new Error(`${joinFile}: no "seats" array`);

/** The seat a feature's English name designates (see --join), or an error naming it. */
function seatOf(en) {
  const bare = en.replace(/\s+(District|County)$/, '');
  const found = seats.filter((s) => s.name_en === bare);
  if (found.length !== 1) throw new Error(`--join: "${en}" matches ${found.length} seats of ${joinFile}`);
  return found[0];
}
if (!(tolerance >= 0) || !(maxBytes > 0)) throw new Error('--tolerance and --max-bytes must be non-negative numbers');

/** Perpendicular distance of p from the segment a–b, in degrees. */
function distance(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/** Douglas–Peucker on an open polyline (iterative: no recursion limit on long rings). */
function simplifyLine(points) {
  if (points.length <= 2) return points;
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [first, last] = stack.pop();
    let worst = -1;
    let index = -1;
    for (let i = first + 1; i < last; i++) {
      const d = distance(points[i], points[first], points[last]);
      if (d > worst) [worst, index] = [d, i];
    }
    if (worst > tolerance) {
      keep[index] = 1;
      stack.push([first, index], [index, last]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

const round = (v) => Math.round(v * 1e5) / 1e5;

/** A closed ring simplified; null when it collapses below a triangle. */
function simplifyRing(ring) {
  const open = ring.slice(0, -1);
  // Split at the vertex farthest from the first so that both halves are simplified with
  // fixed ends (a closed ring has no natural end points).
  let far = 0;
  let worst = -1;
  for (let i = 1; i < open.length; i++) {
    const d = Math.hypot(open[i][0] - open[0][0], open[i][1] - open[0][1]);
    if (d > worst) [worst, far] = [d, i];
  }
  const a = simplifyLine(open.slice(0, far + 1));
  const b = simplifyLine([...open.slice(far), open[0]]);
  const out = [...a, ...b.slice(1)].map(([x, y]) => [round(x), round(y)]);
  const dedup = out.filter((p, i) => i === 0 || p[0] !== out[i - 1][0] || p[1] !== out[i - 1][1]);
  return dedup.length >= 4 ? dedup : null;
}

const source = JSON.parse(readFileSync(input, 'utf8'));
if (source.type !== 'FeatureCollection' || !Array.isArray(source.features)) {
  throw new Error(`${input}: not a GeoJSON FeatureCollection`);
}
let before = 0;
let after = 0;
const features = [];
for (const feature of source.features) {
  const props = feature.properties ?? {};
  if (!filters.every(([k, v]) => String(props[k]) === v)) continue;
  const g = feature.geometry ?? {};
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  const simplified = [];
  for (const polygon of polygons) {
    const rings = [];
    for (const [i, ring] of polygon.entries()) {
      before += ring.length;
      for (const [lon, lat] of ring) {
        if (!(Math.abs(lon) <= 180 && Math.abs(lat) <= 90)) throw new Error(`${input}: not longitude/latitude: ${lon},${lat}`);
      }
      const s = simplifyRing(ring);
      if (s) rings.push(s);
      else if (i === 0) break; // the outer ring vanished: drop the polygon (holes with it)
    }
    if (rings.length) {
      after += rings.reduce((n, r) => n + r.length, 0);
      simplified.push(rings);
    }
  }
  if (!simplified.length) continue;
  let zh = String(props[nameZh] ?? '').trim();
  let en = String(props[nameEn] ?? '').trim();
  let id = feature.id ?? props.shapeID ?? props.code ?? undefined;
  const source = {};
  if (seats) {
    const seat = seatOf(en);
    source.name = en;
    if (props.shapeID) source.shapeID = props.shapeID;
    [id, zh, en] = [seat.id, seat.name_zh, seat.name_en];
  }
  features.push({
    type: 'Feature',
    id,
    properties: { name_zh: zh || en, name_en: en || zh, ...(seats ? { source } : {}) },
    geometry: simplified.length === 1 ? { type: 'Polygon', coordinates: simplified[0] } : { type: 'MultiPolygon', coordinates: simplified },
  });
}
if (seats) {
  const ids = features.map((f) => f.id);
  const missing = seats.filter((s) => !ids.includes(s.id)).map((s) => s.name_zh);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (missing.length || twice.length) {
    throw new Error(`--join: no feature for ${missing.join(' ') || '-'}; more than one for ${twice.join(' ') || '-'}`);
  }
  features.sort((a, b) => a.id.localeCompare(b.id));
}
const watchpost = { attribution, datum, tolerance_deg: tolerance, ...(sourceNote ? { source: sourceNote } : {}) };
const result = { type: 'FeatureCollection', watchpost, features };
const text = JSON.stringify(result);
if (Buffer.byteLength(text) > maxBytes) {
  throw new Error(`${output}: ${Buffer.byteLength(text)} bytes, over ${maxBytes}: raise --tolerance`);
}
if (!attribution) console.error('warning: no --attribution: the map shows none (ODbL and CC-BY require one)');
writeFileSync(output, text + '\n');
console.log(`${features.length} districts: ${features.map((f) => f.properties.name_zh).join(' ')}`);
console.log(`vertices ${before} → ${after}; ${Buffer.byteLength(text)} bytes written to ${output}`);
