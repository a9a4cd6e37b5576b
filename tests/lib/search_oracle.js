#!/usr/bin/env node
// search_oracle.js: the brute-force answer to a /v1/directory or /v1/search query, computed
// independently of aqpd over the ground truth that tests/lib/search.sh (search_truth) exports
// from PostgreSQL, and a checker that walks every page of aqpd's answer and compares. Plain
// Node 18, no dependencies.
//
//   node search_oracle.js check TRUTH.json QUERIES     one query per line (below); exit 1 on any
//                                                      difference, each printed on stderr
//   node search_oracle.js walkchange TRUTH.json QUERY  walks QUERY page by page, runs the shell
//                                                      command $CHANGE_CMD after the second page
//                                                      (it changes entries and writes the new
//                                                      truth to $TRUTH2), waits until aqpd shows
//                                                      the change, walks on, and checks that
//                                                      every entry that matched before and after
//                                                      came exactly once and nothing else came
//   node search_oracle.js expect TRUTH.json QUERY      prints the expected number of results
//   node search_oracle.js scan - NEEDLES SPECS         fetches (and walks, or pages through)
//                                                      public answers, or reads saved ones, and
//                                                      looks for confidential strings in them
//   node search_oracle.js fresh - SPEC.json            makes a change and measures how long each
//                                                      instance takes to show it (see fresh())
//
// A query line: "ENDPOINT KEYVAR QUERYSTRING [check...]" where ENDPOINT is /v1/directory or
// /v1/search, KEYVAR is "-" (no key) or the name of an environment variable holding a key whose
// view the oracle takes from $KEYVAR_ROLE ("board" or "commissioner:CODE"), QUERYSTRING is sent
// as is (limit= inside sets the page size; default 100), and the checks are any of "facets"
// (facet counts on the first page) and "noorder" (skip the order check). The server is
// https://localhost:$AQPD_PORT, its certificate $CACERT.
//
// The semantics are those documented in api/index.h, api/search.c and api/openapi.json:
// haversine with R = 6371.0088 km, an entry on a boundary (within 1e-6 km) may go either way,
// as may a vacancy figure within two minutes of its maximum age.
'use strict';
const fs = require('fs');
const https = require('https');
const { execSync } = require('child_process');

const R_KM = 6371.0088;
const EDGE_KM = 1e-6;
const COVERS_KM = 25.0;
const VACANCY_MAX_AGE_S = Number(process.env.VACANCY_MAX_AGE_S || 604800);
const VACANCY_EDGE_S = 120;
const RATINGS = ['none', 'inadequate', 'requires_improvement', 'good', 'outstanding'];
const STATUSES = ['active', 'suspended', 'lapsed', 'revoked'];
const MAX_TOKEN = 64;

// ---- geometry ----

function rad(d) { return (d * Math.PI) / 180; }

function haversine(lat1, lon1, lat2, lon2) {
  const dphi = rad(lat2 - lat1), dl = rad(lon2 - lon1);
  const a = Math.sin(dphi / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dl / 2) ** 2;
  return 2 * R_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

// ---- text: bytes, as api/index.h says ----

function isApos(b, i) {
  if (b[i] === 0x27) return 1;
  if (b[i] === 0xe2 && b[i + 1] === 0x80 && b[i + 2] === 0x99) return 3;
  return 0;
}
function isWordByte(b, i) {
  const c = b[i];
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || (c >= 0x80 && !isApos(b, i));
}
// Words of a string: runs of ASCII letters/digits and bytes >= 0x80, an apostrophe inside a
// word dropped, ASCII folded to lower case, each cut to 64 bytes. Returned as latin1 strings
// (one char per byte) so that comparisons are byte comparisons.
function words(s) {
  const out = [];
  if (s === null || s === undefined) return out;
  const b = Buffer.from(s, 'utf8');
  let i = 0;
  while (i < b.length) {
    while (i < b.length && !isWordByte(b, i)) i += isApos(b, i) || 1;
    if (i >= b.length) break;
    const w = [];
    while (i < b.length) {
      if (isWordByte(b, i)) {
        if (w.length < MAX_TOKEN) w.push(b[i] >= 65 && b[i] <= 90 ? b[i] + 32 : b[i]);
        i++;
        continue;
      }
      const a = isApos(b, i);
      if (a && i + a < b.length && isWordByte(b, i + a)) { i += a; continue; }
      break;
    }
    out.push(Buffer.from(w).toString('latin1'));
  }
  return out;
}

function nameKey(s) {
  const b = Buffer.from(s, 'utf8').subarray(0, 255);
  const f = Buffer.from(b.map((c) => (c >= 65 && c <= 90 ? c + 32 : c)));
  return f.toString('latin1');
}

function bcmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; } // latin1/ASCII strings: byte order

// ---- the truth ----

function loadTruth(file) {
  const t = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const e of t.entries) {
    e.nk = nameKey(e.org_name);
    e.kb = Buffer.from(e.key, 'utf8').toString('latin1');
    e.w_org = new Set(words(e.org_name));
    e.w_site = new Set(words(e.site_name));
    e.w_desc = new Set(words(e.descr));
    e.vac_at = e.vac_at === null ? null : Math.round(Number(e.vac_at));
  }
  t.byKey = new Map(t.entries.map((e) => [e.key, e]));
  return t;
}

// ---- the query ----

class Bad extends Error {}

function resolveNear(t, v) {
  if (v.includes(',')) {
    const [a, b] = v.split(',');
    return { lat: Number(a), lon: Number(b) };
  }
  let pc = v.replace(/ /g, '').toUpperCase();
  if (pc.length >= 5 && /[0-9][A-Z][A-Z]$/.test(pc)) pc = pc.slice(0, -3);
  const d = t.districts[pc];
  if (!d) throw new Bad(`unknown district ${pc}`);
  return { lat: d[0], lon: d[1] };
}

// The query's filters, from its query string and the caller's view.
function parseQuery(t, qs, view) {
  const p = new URLSearchParams(qs);
  const q = { view, types: null, statuses: view === 'public' ? ['active'] : ['active'], limit: 20 };
  for (const [k, v] of p) {
    switch (k) {
      case 'service_type':
        q.types = q.types || new Set();
        for (const c of v.split(',')) q.types.add(c);
        break;
      case 'tier': q.tier = Number(v); break;
      case 'near': q.near = resolveNear(t, v); break;
      case 'radius_km': q.radius = Number(v); break;
      case 'commissioner': q.commissioner = v; break;
      case 'covers': {
        const c = t.councils[v];
        q.covers = { code: v, lat: c.lat, lon: c.lon };
        break;
      }
      case 'region': {
        let code = t.regions[v] ? v : null;
        for (const [c, n] of Object.entries(t.regions)) if (n.toLowerCase() === v.toLowerCase()) code = c;
        q.region = code;
        break;
      }
      case 'min_rating': q.minRating = RATINGS.indexOf(v); break;
      case 'age': q.age = Number(v); break;
      case 'has_vacancies': q.hasVac = v === 'true' || v === '1'; break;
      case 'sector': q.sector = v; break;
      case 'q': q.q = v; break;
      case 'sort': q.sort = v; break;
      case 'limit': q.limit = Number(v); break;
      case 'status': q.statuses = v.split(','); break;
      case 'cursor': break;
      default: throw new Bad(`parameter ${k} unknown to the oracle`);
    }
  }
  if (q.q !== undefined) {
    const ws = [];
    for (const w of words(q.q)) if (!ws.includes(w)) ws.push(w);
    q.words = ws;
  } else q.words = [];
  q.effSort = q.sort || (q.words.length ? 'relevance' : q.near ? 'distance' : 'name');
  return q;
}

// The view's point of an entry.
function point(e, q) {
  return q.view === 'public' ? [e.ulat, e.ulon] : [e.plat, e.plon];
}

// Relevance of e for q's words: 0 when a word is missing, else the sum of 3 (in a name), 2 (a
// name word starts with the last word), 1 (only in the description).
function score(e, q) {
  const names = new Set(e.w_org);
  if (q.view !== 'public' || !e.priv) for (const w of e.w_site) names.add(w);
  let s = 0;
  q.words.forEach((w, i) => {
    const prefix = i === q.words.length - 1 && w.length >= 2;
    let best = 0;
    if (names.has(w)) best = 3;
    else if (prefix && [...names].some((x) => x.startsWith(w))) best = 2;
    else if (e.w_desc.has(w) || (prefix && [...e.w_desc].some((x) => x.startsWith(w)))) best = 1;
    s = best && (s >= 0) ? s + best : -1;
  });
  return s < 0 ? 0 : s;
}

// Each filter: true (in), false (out) or null (on the boundary: either). `skip` names the
// filter a facet ignores.
function classify(e, q, now, skip) {
  let maybe = false;
  const tri = (v) => { if (v === null) maybe = true; return v !== false; };
  if (skip !== 'service_type' && q.types && !q.types.has(e.st)) return false;
  if (q.tier && !e.tiers.includes(q.tier)) return false;
  if (!q.statuses.includes(e.status)) return false;
  const [lat, lon] = point(e, q);
  e._d = q.near ? haversine(q.near.lat, q.near.lon, lat, lon) : NaN;
  if (q.near && q.radius !== undefined) {
    const d = e._d;
    if (!tri(Math.abs(d - q.radius) <= EDGE_KM ? null : d <= q.radius)) return false;
  }
  if (q.commissioner && !e.agreements.includes(q.commissioner)) return false;
  if (q.covers && e.la !== q.covers.code) {
    const d = haversine(q.covers.lat, q.covers.lon, lat, lon);
    if (!tri(Math.abs(d - COVERS_KM) <= EDGE_KM ? null : d <= COVERS_KM)) return false;
  }
  if (skip !== 'region' && q.region !== undefined && e.region !== q.region) return false;
  if (skip !== 'rating' && q.minRating !== undefined && e.rating < q.minRating) return false;
  if (q.age !== undefined && !(e.age_min !== null && e.age_max !== null && e.age_min <= q.age && q.age <= e.age_max)) return false;
  if (q.hasVac) {
    if (!(e.vac > 0)) return false;
    const edge = now - VACANCY_MAX_AGE_S;
    if (!tri(Math.abs(e.vac_at - edge) <= VACANCY_EDGE_S ? null : e.vac_at > edge)) return false;
  }
  if (q.sector && e.sector !== q.sector) return false;
  if (q.words.length) {
    e._s = score(e, q);
    if (!e._s) return false;
  }
  return maybe ? null : true;
}

function expected(t, q, now) {
  const must = [], maybe = new Set();
  for (const e of t.entries) {
    const c = classify(e, q, now);
    if (c === true) must.push(e);
    else if (c === null) { maybe.add(e.key); must.push(e); }
  }
  return { all: must, maybe };
}

// Facet counts (each ignoring its own filter) as [min, max] per code.
function facets(t, q, now) {
  const f = { service_type: {}, region: {}, rating: {} };
  const add = (o, code, c) => {
    if (code === null || code === undefined) return;
    o[code] = o[code] || [0, 0];
    if (c === true) o[code][0]++;
    o[code][1]++;
  };
  for (const e of t.entries) {
    let c = classify(e, q, now, 'service_type');
    if (c !== false) add(f.service_type, e.st, c);
    c = classify(e, q, now, 'region');
    if (c !== false) add(f.region, e.region, c);
    c = classify(e, q, now, 'rating');
    if (c !== false) add(f.rating, RATINGS[e.rating], c);
  }
  for (const r of RATINGS) f.rating[r] = f.rating[r] || [0, 0];
  return f;
}

// Order of two consecutive entries: -1 (a must come first), 1 (b first), 0 (either: a distance
// tie within rounding between two different points).
function order(q, a, b) {
  let c;
  switch (q.effSort) {
    case 'distance': {
      const d = a._d - b._d;
      const [la, lo] = point(a, q), [lb, lob] = point(b, q);
      if (la === lb && lo === lob) break; // the same point: the same distance, then the key
      if (Math.abs(d) <= 1e-9) return 0;
      return d < 0 ? -1 : 1;
    }
    case 'rating':
      if (a.rating !== b.rating) return a.rating > b.rating ? -1 : 1;
      if ((c = bcmp(a.nk, b.nk))) return c;
      break;
    case 'relevance':
      if (a._s !== b._s) return a._s > b._s ? -1 : 1;
      if ((c = bcmp(a.nk, b.nk))) return c;
      break;
    default:
      if ((c = bcmp(a.nk, b.nk))) return c;
  }
  return bcmp(a.kb, b.kb);
}

// ---- HTTP ----

let agent = null;
const agents = new Map();

function get(path, key, port, method, body) {
  agent = agent || new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(process.env.CACERT) });
  port = Number(port || process.env.AQPD_PORT);
  if (!agents.has(port)) agents.set(port, port === Number(process.env.AQPD_PORT) ? agent
    : new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(process.env.CACERT) }));
  return new Promise((resolve, reject) => {
    const headers = key ? { Authorization: `Bearer ${key}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port,
      path, method: method || 'GET', agent: agents.get(port), headers, timeout: 20000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout on ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

// Walks every page; `between(pageNo)` runs after each page. Returns {items, totals, pages}.
async function walk(endpoint, key, qs, limit, errs, between) {
  const items = [], totals = [], pages = [];
  let cursor = null;
  for (let n = 1; ; n++) {
    const path = `${endpoint}?${qs}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await get(path, key);
    if (r.status !== 200) { errs.push(`${path}: HTTP ${r.status}: ${r.body.slice(0, 300)}`); return null; }
    const b = JSON.parse(r.body);
    if (b.items.length > limit) errs.push(`${path}: ${b.items.length} items on a page of ${limit}`);
    if (b.next_cursor !== null && b.items.length === 0) errs.push(`${path}: an empty page with a next_cursor`);
    if (b.next_cursor !== null && b.items.length < limit) errs.push(`${path}: a short page (${b.items.length}) with a next_cursor`);
    items.push(...b.items);
    totals.push(b.total);
    pages.push(b);
    if (between) await between(n);
    if (b.next_cursor === null) break;
    if (n > 20000) { errs.push(`${path}: no end after 20000 pages`); return null; }
    cursor = b.next_cursor;
  }
  return { items, totals, pages };
}

function viewOf(keyvar) {
  if (keyvar === '-') return { key: null, view: 'public', comm: null };
  const key = process.env[keyvar];
  const role = process.env[`${keyvar}_ROLE`] || '';
  if (!key) throw new Error(`no key in $${keyvar}`);
  return { key, view: 'commissioner', comm: role.startsWith('commissioner:') ? role.slice(13) : null };
}

async function checkOne(t, line, errs, stats) {
  const [endpoint, keyvar, qs, ...checks] = line.trim().split(/\s+/);
  const v = viewOf(keyvar);
  const q = parseQuery(t, qs, endpoint === '/v1/directory' ? 'public' : v.view);
  const limit = new URLSearchParams(qs).get('limit') ? q.limit : 20;
  const now0 = Date.now() / 1000;
  const w = await walk(endpoint, v.key, qs, limit, errs);
  if (!w) return;
  const now = (now0 + Date.now() / 1000) / 2;
  const exp = expected(t, q, now);
  const E = (m) => errs.push(`${endpoint}?${qs}: ${m}`);
  const seen = new Map();
  for (const it of w.items) {
    if (seen.has(it.id)) E(`${it.id} came twice`);
    seen.set(it.id, it);
  }
  const want = new Set(exp.all.map((e) => e.key));
  const missing = [...want].filter((k) => !seen.has(k) && !exp.maybe.has(k));
  const extra = [...seen.keys()].filter((k) => !want.has(k));
  if (missing.length) E(`${missing.length} expected ids missing, e.g. ${missing.slice(0, 3).join(' ')}`);
  if (extra.length) {
    const e0 = t.byKey.get(extra[0]);
    E(`${extra.length} ids that must not match, e.g. ${extra.slice(0, 3).join(' ')} (${e0 ? JSON.stringify({ st: e0.st, status: e0.status, rating: e0.rating, region: e0.region, la: e0.la, d: e0._d, vac: e0.vac, vac_at: e0.vac_at, age: [e0.age_min, e0.age_max] }) : 'not in the truth'})`);
  }
  const lo = exp.all.length - exp.maybe.size, hi = exp.all.length;
  for (const tot of new Set(w.totals)) if (tot < lo || tot > hi) E(`total ${tot}, expected ${lo === hi ? lo : `${lo}..${hi}`}`);
  if (w.items.length < lo || w.items.length > hi) E(`${w.items.length} items over ${w.pages.length} pages, expected ${lo === hi ? lo : `${lo}..${hi}`}`);
  // Every item as the truth has it.
  let bad = 0;
  for (const it of w.items) {
    const e = t.byKey.get(it.id);
    if (!e) continue;
    const probs = [];
    if (it.service_type !== e.st) probs.push(`service_type ${it.service_type} != ${e.st}`);
    if (it.status !== e.status) probs.push(`status ${it.status} != ${e.status}`);
    if ((it.rating || 'none') !== RATINGS[e.rating]) probs.push(`rating ${it.rating} != ${RATINGS[e.rating]}`);
    if (q.near) {
      if (typeof it.distance_km !== 'number') probs.push('no distance_km');
      else if (Math.abs(it.distance_km - e._d) > 0.0011) probs.push(`distance_km ${it.distance_km}, haversine says ${e._d.toFixed(4)}`);
    }
    if (probs.length && bad++ < 3) E(`item ${it.id}: ${probs.join('; ')}`);
  }
  // Order.
  if (!checks.includes('noorder')) {
    const es = w.items.map((it) => t.byKey.get(it.id));
    for (let i = 0; i + 1 < es.length; i++) {
      if (!es[i] || !es[i + 1]) continue;
      if (q.effSort === 'relevance') { es[i]._s = score(es[i], q); es[i + 1]._s = score(es[i + 1], q); }
      if (order(q, es[i], es[i + 1]) > 0) {
        E(`sort=${q.effSort}: ${es[i].key} (${es[i].org_name}, rating ${es[i].rating}, d ${es[i]._d}, score ${es[i]._s}) came before ${es[i + 1].key} (${es[i + 1].org_name}, rating ${es[i + 1].rating}, d ${es[i + 1]._d}, score ${es[i + 1]._s}) at position ${i}`);
        break;
      }
    }
  }
  if (checks.includes('facets')) {
    const f = facets(t, q, now);
    const got = w.pages[0].facets;
    for (const dim of ['service_type', 'region', 'rating']) {
      const codes = new Set([...Object.keys(f[dim]).filter((c) => f[dim][c][1] > 0 || dim === 'rating'), ...Object.keys(got[dim] || {})]);
      for (const c of codes) {
        const [a, b] = f[dim][c] || [0, 0];
        const g = (got[dim] || {})[c];
        if (dim !== 'rating' && b === 0) { E(`facet ${dim}.${c} = ${g}, expected absent`); continue; }
        if (dim !== 'rating' && a === 0 && g === undefined) continue;
        if (g === undefined || g < a || g > b) E(`facet ${dim}.${c} = ${g}, expected ${a === b ? a : `${a}..${b}`}`);
      }
    }
    stats.facets++;
  }
  stats.queries++;
  stats.items += w.items.length;
  stats.pages += w.pages.length;
  if (process.env.ORACLE_VERBOSE) console.error(`  ${endpoint}?${qs}: ${w.items.length} items, ${w.pages.length} pages, total ${w.totals[0]}`);
  return exp.all.length;
}


// ---- redaction: scan response bodies for confidential strings ----

// Needles: lower-cased, and each full postcode also without its space. Found by sliding one
// window per distinct needle length over the lower-cased body. Control needles (strings that
// may be shown) are found by the same pass and counted apart.
function needleIndex(list, controlList = []) {
  const forms = (n) => {
    const l = n.toLowerCase();
    return /^[a-z0-9]{2,4} [0-9][a-z]{2}$/.test(l) ? [l, l.replace(' ', '')] : [l];
  };
  const set = new Set(list.flatMap(forms));
  const control = new Set(controlList.flatMap(forms).filter((n) => !set.has(n)));
  // One pass: a window of the shortest needle's length finds the candidates by their start.
  const K = Math.min(...[...set, ...control].map((n) => n.length));
  const byStart = new Map();
  for (const n of [...set, ...control]) {
    const k = n.slice(0, K);
    if (!byStart.has(k)) byStart.set(k, []);
    byStart.get(k).push(n);
  }
  return { set, control, K, byStart };
}
function findNeedles(idx, body) {
  const b = body.toLowerCase(), hits = new Set();
  for (let i = 0; i + idx.K <= b.length; i++) {
    const c = idx.byStart.get(b.substr(i, idx.K));
    if (!c) continue;
    for (const n of c) if (b.startsWith(n, i)) hits.add(n);
  }
  return hits;
}

// scan NEEDLES SPECS: each spec line "PATH KEYVAR [MODE [LABEL]]". MODE "walk" follows
// next_cursor to the end (limit=100 in PATH) and checks every directory item of a private site
// for leaked members; "pages" follows an Open Referral list's page numbers to its last page
// and checks that the pages held total_items objects; "file" reads the local file PATH (an
// answer the test saved) instead of fetching; anything else is one GET. Checks every body for
// every needle. Prints {needles, bodies, bytes, hits, private_items, private_ids, examples,
// groups}: groups has, for each LABEL, {specs, bodies, bytes, lines (newlines), items (of
// walks and pages), hits, control_hits} so that a test can show what each kind of answer
// amounted to. With $SCAN_CONTROL (a file of strings that may be shown, one a line), those are
// looked for too and counted as control_hits: where they are found, a confidential string in
// the same place would have been.
async function scan(needlesFile, specsFile, errs) {
  const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.length >= 4);
  const idx = needleIndex(lines(needlesFile), process.env.SCAN_CONTROL ? lines(process.env.SCAN_CONTROL) : []);
  const specs = fs.readFileSync(specsFile, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  const st = { needles: idx.set.size, control_needles: idx.control.size, bodies: 0, bytes: 0, hits: 0, control_hits: 0,
    private_items: 0, private_ids: 0, examples: [], groups: {} };
  const privIds = new Set();
  for (const spec of specs) {
    const [path, keyvar, mode, label] = spec.trim().split(/\s+/);
    const key = keyvar && keyvar !== '-' ? process.env[keyvar] : null;
    const g = label ? (st.groups[label] = st.groups[label] || { specs: 0, bodies: 0, bytes: 0, lines: 0, items: 0, hits: 0, control_hits: 0 }) : null;
    if (g) g.specs++;
    let cursor = null, total = null, seen = 0;
    for (let n = 0; n < 10000; n++) {
      const sep = path.includes('?') ? '&' : '?';
      const p = mode === 'pages' ? `${path}${sep}page=${n + 1}`
        : cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path;
      const r = mode === 'file' ? { status: 200, body: fs.readFileSync(path, 'utf8') } : await get(p, key);
      if (r.status !== 200) { errs.push(`${p}: HTTP ${r.status}: ${r.body.slice(0, 200)}`); break; }
      st.bodies++;
      st.bytes += r.body.length;
      const found = [...findNeedles(idx, r.body)];
      const h = found.filter((n) => idx.set.has(n)), ctl = found.length - h.length;
      if (h.length) {
        st.hits += h.length;
        if (st.examples.length < 5) st.examples.push(`${p}: ${h.slice(0, 3).join(' | ')}`);
      }
      st.control_hits += ctl;
      if (g) {
        g.bodies++;
        g.bytes += r.body.length;
        g.lines += r.body.split('\n').length - 1;
        g.hits += h.length;
        g.control_hits += ctl;
      }
      if (mode === 'pages') {
        const b = JSON.parse(r.body);
        if (total === null) total = b.total_items;
        seen += b.contents.length;
        if (g) g.items += b.contents.length;
        if (b.last_page || b.contents.length === 0) {
          if (seen !== total) errs.push(`${path}: the pages held ${seen} objects, total_items says ${total}`);
          break;
        }
        continue;
      }
      if (mode !== 'walk') break;
      const b = JSON.parse(r.body);
      if (g) g.items += b.items.length;
      for (const it of b.items) {
        if (!it.site || !it.site.address_private) continue;
        st.private_items++;
        privIds.add(it.id);
        if (!key) {
          const leaked = ['name', 'address', 'postcode'].filter((m) => m in it.site);
          if (leaked.length) errs.push(`${p}: item ${it.id} (a private site) shows site.${leaked.join(', site.')}`);
          if (!it.location || !['district', 'local_authority'].includes(it.location.precision))
            errs.push(`${p}: item ${it.id} (a private site) is located with precision ${it.location && it.location.precision}`);
        }
      }
      if (b.next_cursor === null) break;
      cursor = b.next_cursor;
    }
  }
  st.private_ids = privIds.size;
  return st;
}


// fresh SPEC.json: {"change": {"port", "method", "path", "key", "body", "status"}, "entry": ID,
// "polls": [{"port", "path", "key", "cond"}], "timeout_ms"}. Makes the change, takes the time
// its response came, then polls every path round-robin over keep-alive connections until each
// shows the entry as "cond" says: "present", "absent" or "has:TEXT" (the entry's item holds
// TEXT). Prints {"response": the change's body, "delays": [{port, path, ms}]}, the delay being
// from the change's response to the end of the first answer that showed it.
async function fresh(specFile, errs) {
  const sp = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  const c = sp.change;
  const r = await get(c.path, c.key, c.port, c.method, c.body === undefined ? undefined : JSON.stringify(c.body));
  const t0 = Date.now();
  if (r.status !== c.status) { errs.push(`${c.method} ${c.path}: HTTP ${r.status}, expected ${c.status}: ${r.body.slice(0, 400)}`); return null; }
  const left = sp.polls.map((p, i) => i);
  const delays = sp.polls.map((p) => ({ port: p.port, path: p.path, ms: null }));
  const deadline = t0 + (sp.timeout_ms || 10000);
  let last = '';
  while (left.length) {
    for (const i of [...left]) {
      const p = sp.polls[i];
      const a = await get(p.path, p.key, p.port);
      const now = Date.now();
      if (a.status !== 200) { errs.push(`GET ${p.path} on ${p.port}: HTTP ${a.status}: ${a.body.slice(0, 300)}`); return null; }
      const b = JSON.parse(a.body);
      const it = b.items.find((x) => x.id === sp.entry);
      const txt = it ? JSON.stringify(it) : '';
      const ok = p.cond === 'present' ? !!it : p.cond === 'absent' ? !it : txt.includes(p.cond.slice(4));
      if (ok) { delays[i].ms = now - t0; left.splice(left.indexOf(i), 1); }
      last = `${p.port} ${p.path}: ${txt || '(absent)'}`;
    }
    if (left.length && Date.now() > deadline) {
      errs.push(`not shown after ${sp.timeout_ms || 10000} ms by ${left.map((i) => `${sp.polls[i].port} ${sp.polls[i].path} (${sp.polls[i].cond})`).join(', ')}; last: ${last.slice(0, 600)}`);
      break;
    }
  }
  return { response: JSON.parse(r.body), delays };
}

async function main() {
  const [mode, truthFile, arg] = process.argv.slice(2);
  const errs = [];
  const t = mode === 'scan' || mode === 'fresh' ? null : loadTruth(truthFile);
  if (mode === 'expect') {
    const [endpoint, keyvar, qs] = arg.split(/\s+/);
    const v = keyvar === '-' ? { view: 'public' } : { view: 'commissioner' };
    const q = parseQuery(t, qs, endpoint === '/v1/directory' ? 'public' : v.view);
    const exp = expected(t, q, Date.now() / 1000);
    console.log(exp.all.length);
    return;
  }
  if (mode === 'fresh') {
    const out = await fresh(arg, errs);
    if (out) console.log(JSON.stringify(out));
    for (const e of errs) console.error(`FRESHNESS ${e}`);
    for (const a of agents.values()) a.destroy();
    process.exit(errs.length ? 1 : 0);
  }
  if (mode === 'scan') {
    const st = await scan(arg, process.argv[5], errs);
    console.log(JSON.stringify(st));
    if (process.env.SCAN_EXPECT === 'hits') {
      if (!st.hits) errs.push('expected confidential strings in these (non-public) answers, found none');
      errs.splice(0, errs.length, ...errs.filter((e) => !e.includes(' shows site.') && !e.includes('precision')));
    } else if (st.hits) errs.push(`${st.hits} confidential strings in public answers, e.g. ${st.examples.join(' ;; ')}`);
    if (errs.length) { for (const e of errs.slice(0, 30)) console.error(`LEAK ${e}`); process.exit(1); }
    for (const a of agents.values()) a.destroy();
    return;
  }
  if (mode === 'check') {
    const lines = fs.readFileSync(arg, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    const stats = { queries: 0, items: 0, pages: 0, facets: 0, empty: 0 };
    for (const line of lines) {
      const before = errs.length;
      const n = await checkOne(t, line, errs, stats);
      if (n === 0) stats.empty++;
      if (errs.length > before && errs.length > 40) break;
    }
    console.log(JSON.stringify(stats));
  } else if (mode === 'walkchange') {
    const [endpoint, keyvar, qs] = arg.split(/\s+/);
    const v = viewOf(keyvar);
    const q1 = parseQuery(t, qs, endpoint === '/v1/directory' ? 'public' : v.view);
    const before = expected(t, q1, Date.now() / 1000);
    let after = null;
    const w = await walk(endpoint, v.key, qs, q1.limit, errs, async (n) => {
      if (n !== 2) return;
      execSync(process.env.CHANGE_CMD, { stdio: 'inherit', shell: '/bin/bash' });
      const t2 = loadTruth(process.env.TRUTH2);
      after = expected(t2, parseQuery(t2, qs, q1.view), Date.now() / 1000);
      // Wait until aqpd shows the change: its total is the new one.
      const deadline = Date.now() + 15000;
      for (;;) {
        const r = await get(`${endpoint}?${qs}`, v.key);
        const tot = r.status === 200 ? JSON.parse(r.body).total : -1;
        if (tot === after.all.length) break;
        if (Date.now() > deadline) { errs.push(`after the change, total stayed ${tot}, expected ${after.all.length}`); break; }
        await new Promise((res) => setTimeout(res, 50));
      }
    });
    if (!w) { for (const e of errs) console.error(e); process.exit(1); }
    if (!after) errs.push('the walk ended before the change (fewer than 3 pages)');
    else {
      const b = new Set(before.all.map((e) => e.key)), a = new Set(after.all.map((e) => e.key));
      if (b.size === a.size && [...b].every((k) => a.has(k))) errs.push('the change changed nothing in the result');
      const seen = new Map();
      for (const it of w.items) seen.set(it.id, (seen.get(it.id) || 0) + 1);
      for (const [k, n] of seen) if (n > 1) errs.push(`${k} came ${n} times`);
      const both = [...b].filter((k) => a.has(k));
      const lost = both.filter((k) => !seen.has(k));
      if (lost.length) errs.push(`${lost.length} entries that matched throughout never came, e.g. ${lost.slice(0, 3).join(' ')}`);
      const stray = [...seen.keys()].filter((k) => !b.has(k) && !a.has(k));
      if (stray.length) errs.push(`${stray.length} entries came that never matched, e.g. ${stray.slice(0, 3).join(' ')}`);
      console.log(JSON.stringify({ items: w.items.length, pages: w.pages.length, before: b.size, after: a.size, both: both.length }));
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  for (const e of errs) console.error(`MISMATCH ${e}`);
  for (const a of agents.values()) a.destroy();
  process.exit(errs.length ? 1 : 0);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(2); });
