/*
 * The public page of the Any Qualified Provider directory: search form, results list and map,
 * provider details, and the current publication. It talks only to this server:
 *   GET /config.json               tile URL and attribution (tile_url; empty: no tiles)
 *   GET /v1/service-types          the service list for the form
 *   GET /v1/directory?...          the search (problem+json errors name the parameter)
 *   GET /v1/providers/{id}         a provider's services, councils with agreements, Ofsted
 *   GET /v1/publications/latest    the current publication (404: none yet)
 *   GET /assets/england-las.geojson  the councils' outline drawn under the markers
 * Everything that comes from the API is put into the page as text (textContent), never as
 * HTML. Children's homes come from the API at postcode-district level only; the page shows no
 * address or postcode for any site the API marks private or that is a children's home, even if
 * one came.
 */
'use strict';

(function () {
  // Results per page: 20, or the page's own ?limit= (1 to 100, the API's maximum).
  const PAGE_SIZE = (() => {
    const n = Number(new URLSearchParams(window.location.search).get('limit'));
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 20;
  })();
  const RATING_LABEL = {
    outstanding: 'Outstanding',
    good: 'Good',
    requires_improvement: 'Requires improvement',
    inadequate: 'Inadequate',
  };
  const SECTOR_LABEL = {
    private: 'Private company',
    voluntary: 'Voluntary or charity',
    local_authority: 'Local authority',
    health: 'Health',
    other: 'Other',
  };
  const FIELD_FOR_PARAM = {
    service_type: 'service-type',
    near: 'near',
    radius_km: 'radius',
    min_rating: 'min-rating',
    sort: 'sort',
    has_vacancies: 'has-vacancies',
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    serviceNames: new Map(),
    params: null, // URLSearchParams of the search shown
    items: [],
    nextCursor: null,
    total: 0,
    map: null,
    markerLayer: null,
    circle: null,
    markers: [],
    opener: null,
    selected: -1,
  };

  /* ---- small helpers ---- */

  // el('p', {class: 'x'}, 'text', child...): an element with attributes and text or children.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  async function getJSON(url) {
    let res;
    try {
      res = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    } catch (e) {
      return { status: 0, body: null };
    }
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    return { status: res.status, body };
  }

  function formatDate(s) {
    if (!s) return '';
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return String(s);
    return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  }

  function serviceName(code) {
    return state.serviceNames.get(code) || code;
  }

  function ratingBadge(rating) {
    const r = RATING_LABEL[rating] ? rating : 'none';
    return el('span', { class: 'rating rating-' + r }, 'Ofsted: ' + (RATING_LABEL[rating] || 'not yet rated'));
  }

  // True when a site's address must not be shown: the API says so, or it is a children's home.
  function isPrivate(item) {
    return item.service_type === 'childrens-home' || !item.site || item.site.address_private !== false;
  }

  function whereText(item) {
    const s = item.site || {};
    const la = s.local_authority && s.local_authority.name;
    if (isPrivate(item)) {
      const district = s.district ? s.district + ' postcode district' : null;
      return [district, la].filter(Boolean).join(', ') + ' (address not published)';
    }
    return [s.name, s.address, s.postcode, la].filter(Boolean).join(', ');
  }

  /* ---- the map ---- */

  function initMap(config) {
    if (typeof L === 'undefined') {
      $('map').append(el('p', { class: 'map-missing' }, 'The map could not be loaded; the list shows every result.'));
      return;
    }
    const map = L.map('map', { center: [52.8, -1.6], zoom: 6, zoomSnap: 0.5, keyboard: true });
    map.attributionControl.setPrefix('<a href="/assets/leaflet/LICENSE">Leaflet</a>');
    const tiles = config && config.tile_url;
    if (tiles) {
      L.tileLayer(tiles, {
        maxZoom: 19,
        attribution: escapeHtml(config.tile_attribution || ''),
      }).addTo(map);
    }
    state.map = map;
    state.markerLayer = L.layerGroup().addTo(map);
    getJSON('/assets/england-las.geojson').then(({ status, body }) => {
      if (status !== 200 || !body) return;
      const outline = L.geoJSON(body, {
        interactive: false,
        style: {
          color: '#505a5f',
          weight: 1,
          fillColor: '#ffffff',
          fillOpacity: tiles ? 0 : 0.85,
        },
      });
      outline.addTo(map);
      outline.bringToBack();
      map.attributionControl.addAttribution('Boundaries: ONS, OGL v3.0; contains OS data &copy; Crown copyright 2024');
    });
  }

  function clearMarkers() {
    if (!state.map) return;
    state.markerLayer.clearLayers();
    state.markers = [];
    if (state.circle) {
      state.circle.remove();
      state.circle = null;
    }
  }

  function addMarker(item, index) {
    if (!state.map || !item.location || typeof item.location.lat !== 'number') {
      state.markers[index] = null;
      return;
    }
    const approx = item.location.precision && item.location.precision !== 'site';
    const icon = L.divIcon({
      className: 'aqp-marker' + (approx ? ' approx' : ''),
      html: String(index + 1),
      iconSize: [28, 28],
    });
    const name = (item.provider && item.provider.name) || 'Provider';
    const m = L.marker([item.location.lat, item.location.lon], { icon, title: name, keyboard: true, riseOnHover: true });
    const open = () => {
      select(index);
      openProvider(index, m.getElement());
    };
    m.on('click', open);
    // Leaflet makes a keyboard marker focusable (a button); Enter or Space on it opens it too.
    m.on('keypress', (e) => {
      const k = e.originalEvent && e.originalEvent.key;
      if (k === 'Enter' || k === ' ') {
        e.originalEvent.preventDefault();
        open();
      }
    });
    m.addTo(state.markerLayer);
    const e = m.getElement();
    if (e) {
      e.setAttribute('aria-label', `${index + 1}. ${name}${approx ? ' (approximate location)' : ''}`);
      e.dataset.index = String(index);
    }
    state.markers[index] = m;
  }

  function fitMap(near, radiusKm) {
    if (!state.map) return;
    if (near && typeof near.lat === 'number') {
      state.circle = L.circle([near.lat, near.lon], {
        radius: radiusKm * 1000,
        color: '#0b3d62',
        weight: 2,
        dashArray: '6 4',
        fill: false,
        interactive: false,
      }).addTo(state.map);
      state.map.fitBounds(state.circle.getBounds(), { padding: [10, 10] });
      return;
    }
    const pts = state.markers.filter(Boolean).map((m) => m.getLatLng());
    if (pts.length) state.map.fitBounds(L.latLngBounds(pts), { padding: [30, 30], maxZoom: 12 });
  }

  /* ---- search ---- */

  function formParams() {
    const p = new URLSearchParams();
    const st = $('service-type').value;
    if (st) p.append('service_type', st);
    const near = $('near').value.trim();
    if (near) {
      p.set('near', near);
      p.set('radius_km', $('radius').value);
    }
    const rating = $('min-rating').value;
    if (rating) p.set('min_rating', rating);
    if ($('has-vacancies').checked) p.set('has_vacancies', 'true');
    let sort = $('sort').value;
    if (sort === 'distance' && !near) sort = 'rating';
    p.set('sort', sort);
    p.set('limit', String(PAGE_SIZE));
    return p;
  }

  // Fills the form from the page's own query string (a search can be bookmarked and shared).
  function formFromLocation() {
    const q = new URLSearchParams(window.location.search);
    if (![...q.keys()].length) return false;
    const set = (id, v) => { if (v !== null) $(id).value = v; };
    set('service-type', q.get('service_type'));
    set('near', q.get('near'));
    if (q.get('radius_km') && [...$('radius').options].some((o) => o.value === q.get('radius_km'))) set('radius', q.get('radius_km'));
    set('min-rating', q.get('min_rating'));
    if (q.get('sort')) set('sort', q.get('sort'));
    $('has-vacancies').checked = q.get('has_vacancies') === 'true';
    return true;
  }

  function clearErrors() {
    const box = $('search-error');
    box.hidden = true;
    box.textContent = '';
    for (const id of Object.values(FIELD_FOR_PARAM)) {
      $(id).removeAttribute('aria-invalid');
      const d = ($(id).getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== 'search-error');
      if (d.length) $(id).setAttribute('aria-describedby', d.join(' '));
      else $(id).removeAttribute('aria-describedby');
    }
  }

  function showError(message, param) {
    const box = $('search-error');
    box.textContent = '';
    box.append(el('strong', {}, 'There is a problem: '), message);
    box.hidden = false;
    const id = param && FIELD_FOR_PARAM[param];
    if (id) {
      const f = $(id);
      f.setAttribute('aria-invalid', 'true');
      const d = (f.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
      d.push('search-error');
      f.setAttribute('aria-describedby', d.join(' '));
      f.focus();
    } else {
      box.focus();
    }
  }

  // The parameter a problem's detail names (the API's details start with or quote it).
  function paramOf(detail) {
    const m = /\b(service_type|near|radius_km|min_rating|has_vacancies|sort|limit|cursor)\b/.exec(detail || '');
    return m ? m[1] : null;
  }

  function describeSearch(p, near) {
    const parts = [];
    const st = p.getAll('service_type');
    parts.push(st.length ? st.map(serviceName).join(' or ') : 'any service');
    if (p.get('near')) parts.push(`within ${p.get('radius_km')} km of ${(near && near.query) || p.get('near')}`);
    if (p.get('min_rating')) parts.push(`rated ${$('min-rating').selectedOptions[0].text.toLowerCase()}`);
    if (p.get('has_vacancies')) parts.push('with places free');
    return parts.join(', ');
  }

  function updateCount() {
    const shown = state.items.length;
    const total = state.total;
    const what = describeSearch(state.params, state.near);
    let text;
    if (total === 0) text = `No providers found: ${what}.`;
    else if (shown >= total) text = `${total} ${total === 1 ? 'result' : 'results'}: ${what}.`;
    else text = `Showing ${shown} of ${total} results: ${what}.`;
    $('result-count').textContent = text;
  }

  async function search(event) {
    if (event) event.preventDefault();
    clearErrors();
    const p = formParams();
    const url = new URL(window.location.href);
    url.search = p.toString();
    if (PAGE_SIZE === 20) url.searchParams.delete('limit');
    window.history.replaceState(null, '', url.pathname + url.search);
    $('results').setAttribute('aria-busy', 'true');
    $('result-count').textContent = 'Searching…';
    const { status, body } = await getJSON('/v1/directory?' + p.toString());
    $('results').removeAttribute('aria-busy');
    if (status !== 200 || !body || !Array.isArray(body.items)) {
      $('result-count').textContent = 'The search could not be done.';
      const detail = body && body.detail ? body.detail : status === 0
        ? 'the directory could not be reached; check your connection and try again'
        : `the directory answered with an error (HTTP ${status}); try again shortly`;
      showError(detail.charAt(0).toUpperCase() + detail.slice(1), paramOf(body && body.detail));
      return;
    }
    state.params = p;
    state.near = body.near || null;
    state.items = [];
    state.total = body.total || 0;
    state.nextCursor = body.next_cursor || null;
    state.selected = -1;
    $('results').textContent = '';
    clearMarkers();
    appendItems(body.items);
    fitMap(state.near, Number(p.get('radius_km')) || 0);
    updateCount();
  }

  async function more() {
    if (!state.nextCursor) return;
    const p = new URLSearchParams(state.params);
    p.set('cursor', state.nextCursor);
    const button = $('more');
    button.disabled = true;
    const { status, body } = await getJSON('/v1/directory?' + p.toString());
    button.disabled = false;
    if (status !== 200 || !body || !Array.isArray(body.items)) {
      showError((body && body.detail) || 'More results could not be loaded; try again.', null);
      return;
    }
    const first = state.items.length;
    state.nextCursor = body.next_cursor || null;
    appendItems(body.items);
    updateCount();
    const b = document.querySelector(`#results li[data-index="${first}"] .result-open`);
    if (b) b.focus();
  }

  function appendItems(items) {
    const list = $('results');
    for (const item of items) {
      const index = state.items.length;
      state.items.push(item);
      list.append(resultItem(item, index));
      addMarker(item, index);
    }
    $('more').hidden = !state.nextCursor;
  }

  function resultItem(item, index) {
    const name = (item.provider && item.provider.name) || 'Unnamed provider';
    const button = el('button', { type: 'button', class: 'result-open', 'aria-describedby': `result-${index}-meta` },
      `${index + 1}. ${name}`);
    button.addEventListener('click', () => {
      select(index);
      openProvider(index, button);
    });
    const metaBits = [serviceName(item.service_type)];
    if (typeof item.distance_km === 'number') metaBits.push(`${item.distance_km.toFixed(1)} km away`);
    const meta = el('p', { class: 'meta', id: `result-${index}-meta` }, metaBits.join(' · '), ' · ', ratingBadge(item.rating));
    const where = el('p', { class: 'where' + (isPrivate(item) ? ' where-private' : '') }, whereText(item));
    let vac = null;
    if (item.vacancies && typeof item.vacancies.places === 'number') {
      const n = item.vacancies.places;
      const when = item.vacancies.updated_at ? ` (updated ${formatDate(item.vacancies.updated_at)})` : '';
      vac = el('p', { class: 'vacancies' }, (n === 0 ? 'No places free' : `${n} ${n === 1 ? 'place' : 'places'} free`) + when);
    }
    const ages = typeof item.age_min === 'number' && typeof item.age_max === 'number'
      ? el('p', { class: 'ages' }, `Ages ${item.age_min} to ${item.age_max}`) : null;
    return el('li', { class: 'result', 'data-index': index, 'data-id': item.id }, el('h3', {}, button), meta, where, vac, ages);
  }

  function select(index) {
    const prev = state.selected;
    if (prev >= 0) {
      const li = document.querySelector(`#results li[data-index="${prev}"]`);
      if (li) li.classList.remove('is-selected');
      const m = state.markers[prev];
      if (m && m.getElement()) m.getElement().classList.remove('is-selected');
    }
    state.selected = index;
    const li = document.querySelector(`#results li[data-index="${index}"]`);
    if (li) li.classList.add('is-selected');
    const m = state.markers[index];
    if (m && m.getElement()) m.getElement().classList.add('is-selected');
  }

  // Arrow keys, Home and End move between the results' buttons.
  function listKeys(event) {
    const t = event.target;
    if (!t.classList || !t.classList.contains('result-open')) return;
    const buttons = [...document.querySelectorAll('#results .result-open')];
    const i = buttons.indexOf(t);
    let j = -1;
    if (event.key === 'ArrowDown') j = Math.min(i + 1, buttons.length - 1);
    else if (event.key === 'ArrowUp') j = Math.max(i - 1, 0);
    else if (event.key === 'Home') j = 0;
    else if (event.key === 'End') j = buttons.length - 1;
    if (j < 0) return;
    event.preventDefault();
    buttons[j].focus();
    select(j);
    const m = state.markers[j];
    if (m && state.map && !state.map.getBounds().contains(m.getLatLng())) state.map.panTo(m.getLatLng());
  }

  /* ---- a provider ---- */

  function section(title, ...content) {
    return el('section', {}, el('h3', {}, title), ...content);
  }

  function table(caption, headers, rows) {
    return el('table', {},
      el('caption', { class: 'visually-hidden' }, caption),
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
  }

  async function openProvider(index, opener) {
    const item = state.items[index];
    if (!item || !item.provider) return;
    const dialog = $('provider');
    state.opener = opener || null;
    $('provider-name').textContent = item.provider.name || 'Provider';
    const body = $('provider-body');
    body.textContent = '';
    body.append(el('p', {}, 'Loading…'));
    if (!dialog.open) dialog.showModal();
    $('provider-name').focus();
    const { status, body: p } = await getJSON('/v1/providers/' + encodeURIComponent(item.provider.id));
    if (state.items[index] !== item || !dialog.open) return; // another search or closed meanwhile
    body.textContent = '';
    if (status !== 200 || !p) {
      body.append(el('p', {}, status === 404
        ? 'This provider no longer holds an active national qualification.'
        : 'The provider\'s details could not be loaded; try again shortly.'));
      return;
    }
    $('provider-name').textContent = p.name;
    const facts = [SECTOR_LABEL[p.sector] || p.sector];
    if (p.kind === 'consortium') facts.push('Consortium');
    body.append(el('p', { class: 'provider-facts' }, facts.join(' · ')));
    if (p.description) body.append(el('p', {}, p.description));
    if (p.website && /^https?:\/\//.test(p.website)) {
      body.append(el('p', {}, el('a', { href: p.website, rel: 'noopener noreferrer external', target: '_blank' }, 'Website'),
        el('span', { class: 'visually-hidden' }, ' (opens in a new tab)')));
    }

    const quals = p.qualifications || [];
    body.append(section('Services it is qualified for',
      quals.length ? el('ul', {}, ...quals.map((q) => el('li', {},
        `${serviceName(q.service_type)}: qualified ${formatDate(q.qualified_at)}, next review due ${formatDate(q.review_due)}`)))
        : el('p', {}, 'None at present.')));

    const ags = p.agreements || [];
    body.append(section('Councils where it holds an agreement',
      ags.length ? table('Councils with an agreement', ['Council', 'Service', 'Since'],
        ags.map((a) => [a.commissioner_name, serviceName(a.service_type), formatDate(a.since)]))
        : el('p', {}, 'No council agreements yet: councils can still place with it through the national qualification.')));

    const ofsted = p.ofsted || [];
    const ratingRows = ofsted.map((o) => [
      o.urn,
      o.provision_type,
      o.local_authority,
      o.rating ? ratingBadge(o.rating) : (o.supported_accommodation_outcome || 'Not yet rated'),
      o.inspected_on ? formatDate(o.inspected_on) : '–',
    ]);
    body.append(section('Ofsted ratings',
      ratingRows.length ? table('Ofsted ratings of its registered settings', ['Ofsted URN', 'Setting', 'Council area', 'Latest rating', 'Inspected'], ratingRows)
        : el('p', {}, 'No Ofsted-registered settings are recorded for this provider.')));

    // Its sites as the directory shows them (children's homes at district level), else those in
    // the search results.
    const sites = Array.isArray(p.sites) && p.sites.length ? p.sites
      : state.items.filter((it) => it.provider && it.provider.id === item.provider.id);
    if (sites.length) {
      body.append(section('Where it works',
        el('ul', {}, ...sites.map((it) => el('li', {}, `${serviceName(it.service_type)}: ${whereText(it)} · `, ratingBadge(it.rating))))));
    }
  }

  function closed() {
    const o = state.opener;
    state.opener = null;
    if (o && document.contains(o) && typeof o.focus === 'function') o.focus();
  }

  /* ---- the publication ---- */

  async function loadPublication() {
    const { status, body } = await getJSON('/v1/publications/latest');
    const summary = $('publication-summary');
    summary.textContent = '';
    if (status === 404) {
      summary.append('The national board has not published the directory yet. The results below come from the live directory.');
      return;
    }
    const n = body && (body.number ?? body.n);
    if (status !== 200 || n === undefined || n === null) {
      summary.append('The current publication could not be looked up just now.');
      return;
    }
    const when = body.published_at || body.created_at || body.time;
    summary.append(`Directory publication number ${n}`);
    if (when) summary.append(`, published ${formatDate(when)}`);
    summary.append('.');
    if (body.sha256) {
      summary.append(' SHA-256: ', el('span', { class: 'sha', id: 'publication-sha' }, body.sha256));
    }
    const o = window.location.origin;
    $('publication-commands').textContent = [
      `curl -sS -o directory.json ${o}/v1/publications/${n}/directory.json`,
      `curl -sS -o public-key.pem ${o}/v1/publications/public-key`,
      `curl -sS ${o}/v1/publications/${n} | jq -r .signature | base64 -d > directory.sig`,
      'sha256sum directory.json',
      'openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in directory.json -sigfile directory.sig',
    ].join('\n');
    $('publication-verify').hidden = false;
  }

  /* ---- start ---- */

  async function loadServiceTypes() {
    const { status, body } = await getJSON('/v1/service-types');
    if (status !== 200 || !body || !Array.isArray(body.items)) return;
    const select = $('service-type');
    for (const t of body.items) {
      state.serviceNames.set(t.code, t.name);
      select.append(el('option', { value: t.code }, t.name));
    }
  }

  async function start() {
    $('search-form').addEventListener('submit', search);
    $('more').addEventListener('click', more);
    $('results').addEventListener('keydown', listKeys);
    $('provider-close').addEventListener('click', () => $('provider').close());
    $('provider').addEventListener('close', closed);
    $('provider').addEventListener('click', (e) => {
      if (e.target === $('provider')) $('provider').close(); // a click on the backdrop
    });
    const [{ body: config }] = await Promise.all([getJSON('/config.json'), loadServiceTypes()]);
    initMap(config || {});
    loadPublication();
    if (formFromLocation()) search();
    document.documentElement.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
