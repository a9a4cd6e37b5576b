// The browser half of tests/integration/web.sh: Playwright (playwright-core) driving Debian's
// Chromium, headless, against the aqpd that web.sh started on loopback. web.sh passes what the
// API answered (files named in WEB_* variables) and this checks that the page shows exactly
// that. Prints one line per check; exits 1 with the reason at the first failure.
//
// WEB_MODE=search: the whole journey (search, list and markers against the API, keyboard,
// provider details, children's home at district level, an API error, accessibility checks,
// screenshots). WEB_MODE=tiles: the map's tiles load through the Content-Security-Policy.
//
// The test certificate is self-signed, so the context ignores certificate errors; every
// request that is not to the loopback server is aborted (and fails the test), except the
// test's own tile host in tiles mode, which is answered here. Nothing leaves the machine.
'use strict';

const fs = require('fs');
const path = require('path');

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const { chromium } = require(env('WEB_PLAYWRIGHT'));
const BASE = env('WEB_BASE');
const MODE = env('WEB_MODE');
const SHOTS = env('WEB_SHOTS');

let failures = 0;
function ok(what) {
  console.log(`ok: ${what}`);
}
function check(cond, what, detail) {
  if (!cond) {
    failures++;
    throw new Error(`${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  }
  ok(what);
}
function eq(expected, actual, what) {
  check(JSON.stringify(expected) === JSON.stringify(actual), what,
    `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
const readJSON = (name) => JSON.parse(fs.readFileSync(env(name), 'utf8'));

// WCAG 2.1 relative luminance and contrast ratio of two "rgb(a)" CSS colours.
function parseColour(s) {
  const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(s);
  if (!m) throw new Error(`cannot parse colour ${s}`);
  return { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] };
}
function luminance({ r, g, b }) {
  const lin = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
function contrast(fg, bg) {
  const a = luminance(fg), b = luminance(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

async function main() {
  const launchArgs = ['--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--disable-extensions'];
  // Chromium's sandbox refuses to run as root (CI runs as root).
  if (typeof process.getuid === 'function' && process.getuid() === 0) launchArgs.push('--no-sandbox');
  const browser = await chromium.launch({ executablePath: env('WEB_CHROMIUM'), headless: true, args: launchArgs });
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, // the loopback server's self-signed test certificate; nothing else is reached
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  const base = new URL(BASE);
  check(['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname), `the server is on loopback (${base.host})`);
  const offsite = [];
  const tileRequests = [];
  const tilePng = fs.readFileSync(path.join(__dirname, '..', '..', 'web', 'vendor', 'leaflet', 'images', 'layers.png'));
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.host === base.host && u.protocol === 'https:') return route.continue();
    if (MODE === 'tiles' && /\.tiles\.aqpd\.test$/.test(u.hostname)) {
      tileRequests.push(u.href);
      return route.fulfill({ status: 200, contentType: 'image/png', body: tilePng });
    }
    offsite.push(u.href);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: (m.location() || {}).url || '' });
  });
  page.on('pageerror', (e) => consoleErrors.push({ text: `page error: ${e.message}`, url: '' }));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  const res = await page.goto(BASE + '/', { waitUntil: 'load' });
  eq(200, res.status(), 'GET / in the browser');
  await page.waitForSelector('html[data-ready="true"]', { timeout: 20000 });
  ok('the page started (service types, config and map loaded)');

  if (MODE === 'tiles') {
    await page.waitForFunction(() => document.querySelectorAll('.leaflet-tile-loaded').length > 0, null, { timeout: 20000 });
    const loaded = await page.$$eval('.leaflet-tile-loaded', (t) => t.length);
    check(loaded > 0 && tileRequests.length > 0, `map tiles loaded from the tile_url server (${loaded} tiles, ${tileRequests.length} requests)`);
    check(tileRequests.every((u) => /^https:\/\/[abc]\.tiles\.aqpd\.test\/\d+\/\d+\/\d+\.png$/.test(u)),
      'tile requests follow the template', tileRequests.slice(0, 3));
    const attribution = await page.textContent('.leaflet-control-attribution');
    check(attribution.includes('Test tiles <b>© nobody</b>'), 'the tile attribution is shown as text, not HTML', attribution);
    await page.screenshot({ path: path.join(SHOTS, 'web-tiles.png') });
    await finish(page, browser, offsite, consoleErrors);
    return;
  }

  // ---- landmarks and labels ----
  const landmarks = await page.evaluate(() => ({
    main: document.querySelectorAll('main').length,
    banner: document.querySelectorAll('body > header').length,
    contentinfo: document.querySelectorAll('body > footer').length,
    search: document.querySelectorAll('[role="search"]').length,
    h1: document.querySelectorAll('h1').length,
    lang: document.documentElement.lang,
    title: document.title,
  }));
  eq({ main: 1, banner: 1, contentinfo: 1, search: 1, h1: 1 },
    { main: landmarks.main, banner: landmarks.banner, contentinfo: landmarks.contentinfo, search: landmarks.search, h1: landmarks.h1 },
    'landmarks: one main, banner, contentinfo, search; one h1');
  check(landmarks.lang === 'en-GB' && landmarks.title.length > 10, 'the page has a language and a title', landmarks);
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => {
      const name = (e.labels && [...e.labels].map((l) => l.textContent.trim()).join(' ')) ||
        e.getAttribute('aria-label') ||
        (e.getAttribute('aria-labelledby') || '').split(' ').map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim() ||
        (e.tagName === 'BUTTON' ? e.textContent.trim() : '');
      return !name;
    })
    .map((e) => e.outerHTML.slice(0, 120)));
  eq([], unlabelled, 'every input, select and button has a label or a name');
  const inputs = await page.$$eval('input, select', (l) => l.length);
  check(inputs >= 6, `the form has its controls (${inputs})`);

  // ---- contrast of the main text colours, computed ----
  const pairs = await page.evaluate(() => {
    const bgOf = (e) => {
      for (let n = e; n; n = n.parentElement) {
        const c = getComputedStyle(n).backgroundColor;
        if (c && c !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(c)) return c;
      }
      return 'rgb(255, 255, 255)';
    };
    const probe = (label, sel) => {
      const e = document.querySelector(sel);
      if (!e) return { label, missing: true };
      return { label, fg: getComputedStyle(e).color, bg: bgOf(e) };
    };
    return [
      probe('body text', 'main .lede'),
      probe('header', '.site-name'),
      probe('hint text', '#near-hint'),
      probe('labels', 'label[for="near"]'),
      probe('search button', '#search-button'),
      probe('result count', '#result-count'),
      probe('publication text', '#publication-summary'),
      probe('footer link', '.site-footer a'),
      probe('footer text', '.site-footer p'),
      probe('keyboard hint', '.keyboard-hint'),
    ];
  });
  for (const p of pairs) {
    check(!p.missing, `contrast probe ${p.label} found`);
    const ratio = contrast(parseColour(p.fg), parseColour(p.bg));
    check(ratio >= 4.5, `contrast of ${p.label}: ${ratio.toFixed(2)}:1 (${p.fg} on ${p.bg}) is at least 4.5:1`);
  }

  // ---- the publication ----
  const pubStatus = Number(env('WEB_PUBLICATION_STATUS'));
  await page.waitForFunction(() => !document.getElementById('publication-summary').textContent.includes('Looking up'));
  const pubText = await page.textContent('#publication-summary');
  if (pubStatus === 404) {
    check(pubText.includes('has not published the directory yet'), 'no publication yet is said plainly', pubText);
    check(await page.isHidden('#publication-verify'), 'no verification steps without a publication');
  } else if (pubStatus === 200) {
    const pub = readJSON('WEB_PUBLICATION');
    const n = pub.number ?? pub.n;
    check(pubText.includes(`number ${n}`), `the current publication number ${n} is shown`, pubText);
    if (pub.sha256) check(pubText.includes(pub.sha256), 'its SHA-256 is shown', pubText);
    await page.click('#publication-verify summary');
    const cmds = await page.textContent('#publication-commands');
    check(cmds.includes(`/v1/publications/${n}/directory.json`) && cmds.includes('openssl pkeyutl -verify'),
      'how to verify it is shown', cmds);
  } else {
    check(pubText.includes('could not be looked up'), `publication answer ${pubStatus} is handled`, pubText);
  }

  // ---- search: fostering within 50 km of LS6, by keyboard ----
  const api = readJSON('WEB_FOSTERING');
  const options = await page.$$eval('#service-type option', (o) => o.map((x) => x.value));
  check(options.includes('independent-fostering') && options.includes('childrens-home') && options.length >= 14,
    `the service list comes from /v1/service-types (${options.length - 1} services)`);
  await page.selectOption('#service-type', 'independent-fostering');
  await page.selectOption('#radius', '50');
  await page.fill('#near', 'LS6');
  await page.press('#near', 'Enter');
  await page.waitForFunction(() => /result|No providers/.test(document.getElementById('result-count').textContent) &&
    !document.getElementById('results').hasAttribute('aria-busy'));
  const count = await page.textContent('#result-count');
  check(count.includes(String(api.total)) && count.includes('LS6') && count.includes('50 km'),
    'the live result count states the total, place and distance', count);
  eq('polite', await page.getAttribute('#result-count', 'aria-live'), 'the result count is announced (aria-live)');
  const names = await page.$$eval('#results .result-open', (b) => b.map((x) => x.textContent));
  eq(api.items.map((it, i) => `${i + 1}. ${it.provider.name}`), names, 'the list shows the API\'s results, in its order');
  check(names.length >= 1 && names.length === Math.min(api.total, 20), `the list has ${names.length} results`);
  const located = api.items.filter((it) => it.location && typeof it.location.lat === 'number').length;
  const markers = await page.$$eval('.leaflet-marker-pane .aqp-marker', (m) => m.map((x) => x.textContent));
  eq(located, markers.length, 'one marker on the map per located result');
  eq(api.items.map((_, i) => String(i + 1)).slice(0, located).sort(), [...markers].sort(), 'markers are numbered as the list');
  const outline = await page.$$eval('.leaflet-overlay-pane path', (p) => p.length);
  check(outline >= 153, `the councils' outline is drawn without tiles (${outline} paths)`);
  const distances = await page.$$eval('#results .meta', (m) => m.map((x) => x.textContent));
  api.items.forEach((it, i) => {
    if (typeof it.distance_km === 'number') {
      check(distances[i].includes(`${it.distance_km.toFixed(1)} km`), `result ${i + 1} shows its distance`, distances[i]);
    }
  });
  const url = new URL(page.url());
  eq(['independent-fostering', 'LS6', '50'], [url.searchParams.get('service_type'), url.searchParams.get('near'), url.searchParams.get('radius_km')],
    'the search is in the address bar (can be bookmarked)');
  const badges = await page.$$eval('#results .rating', (b) => b.map((x) => ({
    text: x.textContent, fg: getComputedStyle(x).color, bg: getComputedStyle(x).backgroundColor })));
  check(badges.length === names.length, 'each result shows its Ofsted rating');
  for (const b of badges) {
    const ratio = contrast(parseColour(b.fg), parseColour(b.bg));
    check(ratio >= 4.5, `contrast of the "${b.text}" badge: ${ratio.toFixed(2)}:1 is at least 4.5:1`);
  }
  await page.screenshot({ path: path.join(SHOTS, 'web-search.png') });
  ok(`screenshot ${path.join(SHOTS, 'web-search.png')}`);

  // ---- keyboard: Tab from the Search button reaches the results; arrows move; Enter opens ----
  await page.focus('#search-button');
  let reached = false;
  for (let i = 0; i < 8 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.classList.contains('result-open'));
  }
  check(reached, 'Tab from the Search button reaches the first result');
  eq(names[0], await page.evaluate(() => document.activeElement.textContent), 'focus is on the first result');
  if (names.length > 1) {
    await page.keyboard.press('ArrowDown');
    eq(names[1], await page.evaluate(() => document.activeElement.textContent), 'ArrowDown moves to the next result');
    check(await page.$eval('.aqp-marker.is-selected', (m) => m.textContent === '2'), 'its marker is highlighted');
    await page.keyboard.press('ArrowUp');
    eq(names[0], await page.evaluate(() => document.activeElement.textContent), 'ArrowUp moves back');
  }
  const first = api.items[0];
  await page.keyboard.press('Enter');
  await page.waitForSelector('#provider[open]');
  eq('provider-name', await page.evaluate(() => document.activeElement.id), 'Enter opens the provider; focus moves to its name');
  await page.waitForFunction(() => document.querySelectorAll('#provider-body h3').length >= 3);
  const detail = await page.textContent('#provider');
  const provider = await (await page.request.get(`${BASE}/v1/providers/${first.provider.id}`)).json();
  check(detail.includes(provider.name), 'the provider\'s name', provider.name);
  for (const q of provider.qualifications) {
    check(detail.includes('Independent fostering agency') || detail.includes(q.service_type), `its service ${q.service_type}`);
  }
  for (const a of provider.agreements) check(detail.includes(a.commissioner_name), `its agreement with ${a.commissioner_name}`);
  for (const o of provider.ofsted) {
    check(detail.includes(o.urn), `its Ofsted setting ${o.urn}`);
    if (o.rating) {
      const label = { outstanding: 'Outstanding', good: 'Good', requires_improvement: 'Requires improvement', inadequate: 'Inadequate' }[o.rating];
      check(detail.includes(`Ofsted: ${label}`), `its Ofsted rating ${label}`);
    }
  }
  if (first.provider.name === 'SWIIS Foster Care Limited') {
    check(detail.includes('Leeds') && detail.includes('Bradford') && detail.includes(env('WEB_PROVIDER_URN')) && detail.includes('Outstanding'),
      'the nearest agency: agreements with Leeds and Bradford, Ofsted Outstanding');
  }
  check(provider.agreements.length >= 1 || provider.ofsted.length >= 1 || names.length === 1, 'the provider opened has data to show');
  await page.screenshot({ path: path.join(SHOTS, 'web-provider.png') });
  ok(`screenshot ${path.join(SHOTS, 'web-provider.png')}`);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('provider').open);
  eq(names[0], await page.evaluate(() => document.activeElement.textContent), 'Escape closes it; focus returns to the result');

  // A marker opens the same details (a click, and Enter on a focused marker).
  await page.click('.leaflet-marker-pane .aqp-marker >> nth=0');
  await page.waitForSelector('#provider[open]');
  check((await page.textContent('#provider-name')).length > 0, 'a click on a marker opens its provider');
  await page.click('#provider-close');
  await page.waitForFunction(() => !document.getElementById('provider').open);
  await page.focus('.leaflet-marker-pane .aqp-marker >> nth=0');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#provider[open]');
  ok('Enter on a focused marker opens its provider');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('provider').open);
  check(await page.evaluate(() => document.activeElement.classList.contains('aqp-marker')), 'focus returns to the marker');

  // ---- rating and vacancies filters ----
  const filtered = readJSON('WEB_FILTERED');
  await page.selectOption('#min-rating', 'outstanding');
  await page.check('#has-vacancies');
  await page.click('#search-button');
  await page.waitForFunction((n) => document.querySelectorAll('#results .result').length === n &&
    !document.getElementById('results').hasAttribute('aria-busy'), filtered.items.length);
  eq(filtered.items.map((it, i) => `${i + 1}. ${it.provider.name}`), await page.$$eval('#results .result-open', (b) => b.map((x) => x.textContent)),
    'Outstanding with places free: the list is the API\'s answer');
  const vac = await page.textContent('#results .vacancies');
  check(vac.startsWith(`${filtered.items[0].vacancies.places} places free`), 'the places free are shown', vac);
  const fcount = await page.textContent('#result-count');
  check(fcount.includes('rated outstanding') && fcount.includes('with places free'), 'the count says which filters applied', fcount);
  await page.selectOption('#min-rating', '');
  await page.uncheck('#has-vacancies');

  // ---- a page at a time: ?limit=1 from the address, Show more, focus on the new result ----
  await page.goto(BASE + '/?service_type=independent-fostering&near=LS6&radius_km=50&sort=distance&limit=1');
  await page.waitForSelector('html[data-ready="true"]');
  await page.waitForFunction(() => document.querySelectorAll('#results .result').length === 1);
  check(await page.isVisible('#more'), 'a search from the address bar runs; Show more is offered');
  check((await page.textContent('#result-count')).startsWith(`Showing 1 of ${api.total}`), 'the count says how many are shown');
  await page.click('#more');
  await page.waitForFunction(() => document.querySelectorAll('#results .result').length === 2);
  eq(names.slice(0, 2), await page.$$eval('#results .result-open', (b) => b.map((x) => x.textContent)),
    'the next page follows in the API\'s order');
  eq(names[1], await page.evaluate(() => document.activeElement.textContent), 'focus moves to the first new result');
  eq(2, await page.$$eval('.leaflet-marker-pane .aqp-marker', (m) => m.length), 'its marker is added');
  if (api.total === 2) check(await page.isHidden('#more'), 'no Show more after the last page');

  // ---- a children's home: district level only ----
  const homes = readJSON('WEB_HOMES');
  await page.selectOption('#service-type', 'childrens-home');
  await page.click('#search-button');
  await page.waitForFunction((n) => document.querySelectorAll('#results .result').length === n && !document.getElementById('results').hasAttribute('aria-busy'),
    homes.items.length);
  const where = await page.$$eval('#results .where', (w) => w.map((x) => x.textContent));
  homes.items.forEach((h, i) => {
    check(where[i].includes('(address not published)'), `children's home ${i + 1}: address not published`, where[i]);
    if (h.site && h.site.district) check(where[i].includes(`${h.site.district} postcode district`), `children's home ${i + 1}: its postcode district`, where[i]);
    if (h.location) check(['district', 'local_authority'].includes(h.location.precision), `children's home ${i + 1}: an approximate location from the API`, h.location);
  });
  const approx = await page.$$eval('.leaflet-marker-pane .aqp-marker', (m) => m.filter((x) => x.classList.contains('approx')).length);
  eq(homes.items.filter((h) => h.location && h.location.precision !== 'site').length, approx, 'children\'s homes are drawn as approximate markers');
  await page.click('#results .result-open >> nth=0');
  await page.waitForFunction(() => document.querySelectorAll('#provider-body h3').length >= 3);
  const homeDetail = await page.textContent('#provider-body');
  const homeDistrict = homes.items[0].site && homes.items[0].site.district;
  check(homeDetail.includes('Where it works') && (!homeDistrict || homeDetail.includes(`${homeDistrict} postcode district`)),
    'the home\'s provider details show where it works at district level', homeDetail.slice(0, 400));
  const secrets = env('WEB_SECRETS').split('|');
  const dom = await page.evaluate(() => document.documentElement.outerHTML + '\n' +
    [...document.querySelectorAll('input')].map((i) => i.value).join('\n') + '\n' + document.body.innerText);
  for (const s of secrets) check(!dom.includes(s), `the page's DOM does not contain "${s}"`);
  await page.screenshot({ path: path.join(SHOTS, 'web-home.png') });
  ok(`screenshot ${path.join(SHOTS, 'web-home.png')}`);
  await page.keyboard.press('Escape');

  // ---- an error from the API is shown, on the field it names ----
  const unknown = readJSON('WEB_UNKNOWN');
  await page.fill('#near', 'ZZ99');
  await page.click('#search-button');
  await page.waitForSelector('#search-error:not([hidden])');
  const errText = await page.textContent('#search-error');
  check(unknown.detail && errText.toLowerCase().includes(unknown.detail.toLowerCase()), 'the API\'s problem detail is shown', { errText, detail: unknown.detail });
  eq('alert', await page.getAttribute('#search-error', 'role'), 'the error is announced (role=alert)');
  if (/\bnear\b/.test(unknown.detail)) {
    eq('true', await page.getAttribute('#near', 'aria-invalid'), 'the postcode field is marked invalid');
    eq('near', await page.evaluate(() => document.activeElement.id), 'focus moves to the postcode field');
  }
  await page.fill('#near', 'LS6');
  await page.click('#search-button');
  await page.waitForSelector('#search-error', { state: 'hidden' });
  check((await page.getAttribute('#near', 'aria-invalid')) === null, 'a good search clears the error');

  await finish(page, browser, offsite, consoleErrors);
}

async function finish(page, browser, offsite, consoleErrors) {
  const csp = await page.evaluate(() => window.__csp);
  eq([], csp, 'the Content-Security-Policy blocked nothing the page needs');
  eq([], offsite, 'no request left the loopback server');
  // Chromium logs every 4xx answer; the page handles these two (no publication yet, the
  // unknown postcode), so they are not errors. Anything else is.
  const handled = (e) => /^Failed to load resource: the server responded with a status of 4\d\d/.test(e.text) &&
    /\/v1\/(publications\/latest|directory\?)/.test(e.url);
  eq([], consoleErrors.filter((e) => !handled(e)), 'no script errors in the console');
  await browser.close();
  console.log(`browser test (${MODE}) passed`);
}

main().catch((e) => {
  console.error(`FAIL: ${e.message}`);
  process.exit(1);
}).then(() => {
  if (failures) process.exit(1);
});
