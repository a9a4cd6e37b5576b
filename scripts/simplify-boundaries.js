#!/usr/bin/env node
// Makes web/england-las.geojson, the outline of England's 153 upper-tier local authorities that
// the public web page draws under its markers, from the ONS "Counties and Unitary Authorities
// (December 2024) Boundaries UK BUC" GeoJSON (data/SOURCES.md says where it comes from and its
// licence). Reproducible: the same input gives the same bytes.
//
//   node scripts/simplify-boundaries.js [INPUT.geojson [OUTPUT.geojson]]
//
// INPUT defaults to ../shared/data/local_authorities/ons/Counties_and_Unitary_Authorities_
// December_2024_Boundaries_UK_BUC_-7342248301948489151.geojson beside the repository, OUTPUT
// to web/england-las.geojson. What it does:
//   - keeps the English areas (codes E06, E08, E09, E10) and, of their properties, only the
//     code and the name ({"code": "E08000035", "name": "Leeds"});
//   - simplifies every ring with Douglas-Peucker at TOLERANCE degrees (measured on a plane
//     where a degree of longitude is shortened by cos(latitude), so the tolerance is about the
//     same distance east-west as north-south), keeps at least 4 points per ring, and drops
//     rings (islands, holes) whose bounding box is smaller than MIN_RING degrees across;
//   - rounds coordinates to DECIMALS places (0.001 degree is about 100 m; the outline is for
//     orientation, not for deciding which council a point is in);
//   - writes one feature per line, sorted by code, with a trailing newline.
'use strict';

const fs = require('fs');
const path = require('path');

const TOLERANCE = 0.002; // degrees, about 200 m
const MIN_RING = 0.01; // degrees: smaller islands are dropped
const DECIMALS = 3;

const root = path.resolve(__dirname, '..');
const input = process.argv[2] || path.resolve(root, '..', 'shared', 'data', 'local_authorities', 'ons',
  'Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC_-7342248301948489151.geojson');
const output = process.argv[3] || path.join(root, 'web', 'england-las.geojson');

// Squared distance from p to the segment a-b, on the locally scaled plane (k = cos(latitude)).
function segDist2(p, a, b, k) {
  const ax = a[0] * k, ay = a[1], bx = b[0] * k, by = b[1], px = p[0] * k, py = p[1];
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  const ex = ax + t * dx - px, ey = ay + t * dy - py;
  return ex * ex + ey * ey;
}

// Douglas-Peucker on an open polyline, iteratively (no recursion depth limit). Returns the kept
// points in order; the first and last are always kept.
function douglasPeucker(points, tol) {
  const n = points.length;
  if (n < 3) return points.slice();
  const k = Math.cos((points[0][1] * Math.PI) / 180);
  const keep = new Uint8Array(n);
  keep[0] = keep[n - 1] = 1;
  const stack = [[0, n - 1]];
  const tol2 = tol * tol;
  while (stack.length) {
    const [first, last] = stack.pop();
    let worst = -1, worstD = tol2;
    for (let i = first + 1; i < last; i++) {
      const d = segDist2(points[i], points[first], points[last], k);
      if (d > worstD) { worstD = d; worst = i; }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([first, worst], [worst, last]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

const round = (v) => Number(v.toFixed(DECIMALS));

// Simplifies one closed ring; returns null when it is too small to keep.
function simplifyRing(ring) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of ring) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  if (Math.max(maxX - minX, maxY - minY) < MIN_RING) return null;
  // The ring is closed (first == last): split it at the point farthest from its start so that
  // both halves are simplified as open lines and the ring cannot collapse.
  const open = ring.slice(0, -1);
  let far = 0, farD = -1;
  for (let i = 1; i < open.length; i++) {
    const dx = open[i][0] - open[0][0], dy = open[i][1] - open[0][1];
    if (dx * dx + dy * dy > farD) { farD = dx * dx + dy * dy; far = i; }
  }
  const a = douglasPeucker(open.slice(0, far + 1), TOLERANCE);
  const b = douglasPeucker(open.slice(far).concat([open[0]]), TOLERANCE);
  let out = a.concat(b.slice(1)).map(([x, y]) => [round(x), round(y)]);
  out = out.filter((p, i) => i === 0 || p[0] !== out[i - 1][0] || p[1] !== out[i - 1][1]);
  if (out.length < 4) return null;
  return out;
}

function simplifyPolygon(rings) {
  const outer = simplifyRing(rings[0]);
  if (!outer) return null;
  return [outer].concat(rings.slice(1).map(simplifyRing).filter(Boolean));
}

const src = JSON.parse(fs.readFileSync(input, 'utf8'));
const features = [];
for (const f of src.features) {
  const code = f.properties.CTYUA24CD;
  if (!/^E(06|08|09|10)\d{6}$/.test(code)) continue;
  const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
  let kept = polys.map(simplifyPolygon).filter(Boolean);
  if (kept.length === 0) {
    // A tiny area (the Isles of Scilly, the City of London): keep its largest ring unsimplified
    // but rounded, so that every council is drawn.
    const largest = polys.map((p) => p[0]).sort((r1, r2) => r2.length - r1.length)[0];
    kept = [[largest.map(([x, y]) => [round(x), round(y)])]];
  }
  features.push({
    type: 'Feature',
    properties: { code, name: f.properties.CTYUA24NM },
    geometry: kept.length === 1 ? { type: 'Polygon', coordinates: kept[0] }
      : { type: 'MultiPolygon', coordinates: kept },
  });
}
features.sort((x, y) => (x.properties.code < y.properties.code ? -1 : 1));
const text = '{"type":"FeatureCollection","features":[\n' +
  features.map((f) => JSON.stringify(f)).join(',\n') + '\n]}\n';
fs.writeFileSync(output, text);
const points = features.reduce((n, f) => n + JSON.stringify(f.geometry.coordinates).split('],[').length, 0);
console.error(`simplify-boundaries: ${features.length} areas, ${points} points, ${text.length} bytes -> ${output}`);
