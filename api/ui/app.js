// hookq console: plain JS, no build step, no third-party code. It talks
// only to the public /v1 API with the token kept in sessionStorage.
'use strict';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'hookq.token';
const views = ['login', 'view-queues', 'view-messages', 'view-message', 'view-sources', 'view-cluster'];
let timer = null;          // the current view's refresh
let prevStats = null;      // queue counters at the last refresh, for rates
let dlqs = new Set();      // queues that are some queue's dead-letter queue
let pages = [''];          // message browser: cursors of the pages visited
let current = {};          // what the message views show
let section = '';          // the top-level view shown (its status line is kept within it)

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + token() } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (e) { data = text; } }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 401 && path !== '/v1/queues') { logout('session ended: ' + (err.message || 'unauthenticated')); }
    throw new APIError(resp.status, err.code || String(resp.status), err.message || resp.statusText);
  }
  return data;
}

const q = encodeURIComponent;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function status(text, bad) {
  const s = $('#status');
  s.textContent = text || '';
  s.className = 'status' + (bad ? ' bad' : '');
}

function fmtTime(t) { return t ? new Date(t).toLocaleString() : ''; }
function fmtAge(sec) {
  if (!sec) return '0s';
  if (sec < 60) return sec.toFixed(1) + 's';
  if (sec < 3600) return (sec / 60).toFixed(1) + 'm';
  return (sec / 3600).toFixed(1) + 'h';
}

function show(id) {
  for (const v of views) $('#' + v).hidden = v !== id;
  $('#nav').hidden = id === 'login';
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', location.hash.startsWith(a.getAttribute('href')));
  }
}

function stop() { if (timer) { clearInterval(timer); timer = null; } }

// confirmAction shows the confirmation dialog and resolves true on
// Confirm.
function confirmAction(text) {
  return new Promise((resolve) => {
    $('#confirm-text').textContent = text;
    $('#confirm').hidden = false;
    const done = (ok) => {
      $('#confirm').hidden = true;
      $('#confirm-yes').onclick = null;
      $('#confirm-no').onclick = null;
      resolve(ok);
    };
    $('#confirm-yes').onclick = () => done(true);
    $('#confirm-no').onclick = () => done(false);
  });
}

// ---- login ----

function logout(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  stop();
  show('login');
  $('#login-error').textContent = why || '';
}

async function login(ev) {
  ev.preventDefault();
  const t = $('#token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, t);
  try {
    await api('GET', '/v1/queues');
    $('#token').value = '';
    $('#login-error').textContent = '';
    if (!location.hash || location.hash === '#/login') location.hash = '#/queues';
    else route();
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('#login-error').textContent = e.status === 401 || e.status === 403
      ? 'This token is not accepted (it needs the admin scope).' : 'Cannot reach hookq: ' + e.message;
  }
}

// ---- queues ----

async function refreshQueues() {
  let data;
  try { data = await api('GET', '/v1/queues'); } catch (e) { status(e.message, true); return; }
  const now = Date.now();
  const tbody = $('#queues-table tbody');
  tbody.replaceChildren();
  dlqs = new Set(data.queues.map((x) => x.settings.deadLetterQueue).filter(Boolean));
  const stats = {};
  for (const qu of data.queues) {
    const s = qu.stats;
    stats[qu.name] = { enqueued: s.enqueued, delivered: s.delivered, at: now };
    let inRate = '', outRate = '';
    const p = prevStats && prevStats[qu.name];
    if (p && now > p.at) {
      const dt = (now - p.at) / 1000;
      inRate = ((s.enqueued - p.enqueued) / dt).toFixed(1);
      outRate = ((s.delivered - p.delivered) / dt).toFixed(1);
    }
    const browse = el('a', { href: '#/queues/' + q(qu.name) + '/messages' }, qu.name);
    tbody.append(el('tr', { 'data-queue': qu.name },
      el('td', {}, browse, dlqs.has(qu.name) ? el('span', { class: 'pill bad' }, 'DLQ') : null),
      el('td', { class: 'num c-ready' }, s.ready),
      el('td', { class: 'num c-inflight' }, s.inflight),
      el('td', { class: 'num c-delayed' }, s.delayed),
      el('td', { class: 'num c-acked' }, s.acked),
      el('td', { class: 'num' }, fmtAge(s.oldestReadyAgeSeconds)),
      el('td', { class: 'num' }, inRate),
      el('td', { class: 'num' }, outRate),
      el('td', { class: 'num' }, s.deadLettered),
      el('td', {}, el('button', { type: 'button', onclick: () => { location.hash = '#/queues/' + q(qu.name) + '/messages'; } }, 'Browse'))));
  }
  prevStats = stats;
  $('#queues-updated').textContent = 'live · ' + new Date(now).toLocaleTimeString();
}

// ---- messages ----

async function loadMessages() {
  const { queue, state } = current;
  const cursor = pages[pages.length - 1];
  let path = '/v1/queues/' + q(queue) + '/messages?limit=20';
  if (state) path += '&state=' + q(state);
  if (cursor) path += '&after=' + q(cursor);
  let data;
  try { data = await api('GET', path); } catch (e) { status(e.message, true); return; }
  current.next = data.next;
  const tbody = $('#messages-table tbody');
  tbody.replaceChildren();
  for (const m of data.messages) {
    const open = () => { location.hash = '#/queues/' + q(queue) + '/messages/' + q(m.messageId); };
    tbody.append(el('tr', { class: 'clickable', 'data-message-id': m.messageId, onclick: open },
      el('td', { class: 'mono' }, m.messageId),
      el('td', { class: 'c-state' }, m.state),
      el('td', {}, fmtTime(m.receivedAt)),
      el('td', {}, m.source),
      el('td', { class: 'num' }, m.attempts),
      el('td', { class: 'mono c-replay-of' }, m.replayOf || ''),
      el('td', {}, m.deadLetter ? m.deadLetter.reason + ' (from ' + m.deadLetter.originQueue + ')' : '')));
  }
  $('#messages-empty').hidden = data.messages.length > 0;
  $('#messages-next').disabled = !data.next;
  $('#messages-first').disabled = pages.length === 1;
}

async function showMessages(queue, state) {
  if (current.queue !== queue || current.state !== state) pages = [''];
  current = { queue, state };
  $('#messages-queue').textContent = queue;
  $('#messages-state').value = state;
  $('#messages-redrive-all').hidden = !dlqs.has(queue);
  show('view-messages');
  await loadMessages();
  timer = setInterval(() => { if (pages.length === 1) loadMessages(); }, 3000);
}

function prettyBody(rec) {
  if (rec.encoding === 'base64') {
    $('#message-encoding').textContent = 'base64 (not UTF-8) · ' + (rec.contentType || '');
    return rec.payload;
  }
  $('#message-encoding').textContent = rec.contentType || '';
  try { return JSON.stringify(JSON.parse(rec.payload), null, 2); } catch (e) { return rec.payload; }
}

async function showMessage(queue, id) {
  current = Object.assign({}, current, { queue, id });
  show('view-message');
  let rec;
  try { rec = await api('GET', '/v1/queues/' + q(queue) + '/messages/' + q(id)); } catch (e) { status(e.message, true); return; }
  $('#message-id').textContent = rec.messageId;
  const fields = $('#message-fields');
  fields.replaceChildren();
  for (const [k, v] of [['queue', rec.queue], ['state', rec.state], ['source', rec.source], ['received', rec.receivedAt],
    ['event id', rec.eventId], ['replay of', rec.replayOf], ['attempts', rec.attempts], ['content type', rec.contentType]]) {
    fields.append(el('dt', {}, k), el('dd', { 'data-field': k }, v === null || v === undefined ? '—' : v));
  }
  const dl = $('#message-deadletter');
  dl.hidden = !rec.deadLetter;
  if (rec.deadLetter) {
    const d = rec.deadLetter;
    dl.textContent = 'Dead-lettered from ' + d.originQueue + ' after ' + d.attempts + ' attempt(s): ' + d.reason + ' (' + fmtTime(d.deadAt) + ')';
  }
  const hb = $('#message-headers tbody');
  hb.replaceChildren();
  for (const [k, v] of Object.entries(rec.headers || {})) hb.append(el('tr', {}, el('td', { class: 'mono hname' }, k), el('td', { class: 'mono' }, v)));
  $('#message-body').textContent = prettyBody(rec);
  const db = $('#message-deliveries tbody');
  db.replaceChildren();
  for (const d of rec.deliveries || []) {
    db.append(el('tr', {}, el('td', { class: 'mono' }, d.deliveryId), el('td', { class: 'num' }, d.attempt),
      el('td', {}, fmtTime(d.leasedAt)), el('td', {}, fmtTime(d.settledAt)), el('td', {}, d.outcome || 'leased'), el('td', {}, d.reason || '')));
  }
  $('#message-redrive').hidden = !dlqs.has(queue);
}

async function replayMessage() {
  const { queue, id } = current;
  if (!await confirmAction('Replay message ' + id + ' into ' + queue + '? A new message with the same body is enqueued.')) return;
  try {
    const r = await api('POST', '/v1/queues/' + q(queue) + '/replay', { messageIds: [id] });
    status('replayed ' + r.replayed + ' message(s)');
    location.hash = '#/queues/' + q(queue) + '/messages';
  } catch (e) { status(e.message, true); }
}

async function redrive(ids) {
  const { queue } = current;
  const what = ids ? 'message ' + ids[0] : 'every message of ' + queue;
  if (!await confirmAction('Redrive ' + what + ' back to its origin queue?')) return;
  try {
    const r = await api('POST', '/v1/queues/' + q(queue) + '/redrive', ids ? { messageIds: ids } : {});
    status('redriven ' + r.redriven + ' message(s)');
    location.hash = '#/queues/' + q(queue) + '/messages';
    if (!ids) loadMessages();
  } catch (e) { status(e.message, true); }
}

async function purge() {
  const { queue } = current;
  if (!await confirmAction('Purge ' + queue + '? Every ready, delayed and in-flight message is removed.')) return;
  try {
    const r = await api('POST', '/v1/queues/' + q(queue) + '/purge');
    status('purged ' + r.purged + ' message(s)');
    pages = [''];
    loadMessages();
  } catch (e) { status(e.message, true); }
}

// ---- sources ----

async function refreshSources() {
  let data;
  try { data = await api('GET', '/v1/sources'); } catch (e) { status(e.message, true); return; }
  const tbody = $('#sources-table tbody');
  tbody.replaceChildren();
  for (const s of data.sources) {
    const rej = el('td', { class: 'c-rejections' });
    tbody.append(el('tr', { 'data-source': s.name },
      el('td', {}, s.name),
      el('td', {}, el('span', { class: 'pill' }, s.verify.type)),
      el('td', {}, ...s.queues.map((n) => el('a', { class: 'pill', href: '#/queues/' + q(n) + '/messages' }, n))),
      el('td', {}, s.dedup.key + ' / ' + s.dedup.window),
      rej,
      el('td', { class: 'actions' },
        el('button', { type: 'button', 'data-test-source': s.name, onclick: () => sendTest(s.name) }, 'Send test webhook'),
        el('button', { type: 'button', 'data-edit-source': s.name, onclick: () => openSourceForm(s) }, 'Edit'),
        el('button', { type: 'button', class: 'danger', 'data-delete-source': s.name, onclick: () => deleteSource(s.name) }, 'Delete'))));
    api('GET', '/v1/sources/' + q(s.name) + '/rejections').then((r) => {
      if (!r.rejections.length) { rej.textContent = 'none'; return; }
      rej.replaceChildren(...r.rejections.map((x) => el('span', { class: 'pill bad', title: 'last ' + fmtTime(x.lastAt) }, x.reason + ' × ' + x.count)));
    }).catch(() => { rej.textContent = '?'; });
  }
}

async function sendTest(name) {
  const out = $('#source-test-result');
  out.className = '';
  out.textContent = 'sending a signed test webhook to ' + name + '…';
  try {
    const r = await api('POST', '/v1/sources/' + q(name) + '/test');
    out.className = 'ok';
    out.textContent = 'test webhook ' + (r.duplicate ? 'was a duplicate of ' : 'queued as ') + r.messageId;
    out.setAttribute('data-message-id', r.messageId);
  } catch (e) {
    out.className = 'error';
    out.textContent = 'test webhook refused: ' + e.code + ': ' + e.message;
  }
  refreshSources();
}

// ---- source form ----

const VERIFY_FIELDS = ['secrets', 'header', 'algorithm', 'encoding', 'prefix', 'tolerance'];
let verifyTypes = null;    // GET /v1/verify-types, by type, loaded once
let editing = null;        // the source being edited, null for a new one

// loadVerifyTypes fills the verify.type select from the server's list, so
// the form offers exactly the types this build verifies.
async function loadVerifyTypes() {
  if (verifyTypes) return;
  const data = await api('GET', '/v1/verify-types');
  verifyTypes = new Map(data.types.map((t) => [t.type, t]));
  $('#sf-type').replaceChildren(...data.types.map((t) => el('option', { value: t.type }, t.type)));
}

// showTypeFields shows the fields the selected type reads, its hint, and
// what the secrets box expects.
function showTypeFields() {
  const t = verifyTypes.get($('#sf-type').value);
  for (const f of VERIFY_FIELDS) $('.row[data-field="' + f + '"]').hidden = !t.fields.includes(f);
  $('#sf-hint').textContent = t.hint;
  const name = $('#sf-name').value.trim();
  $('#sf-url').textContent = 'URL to give the provider: ' + location.origin + '/hooks/' + (name ? q(name) : '<name>');
  const lines = ['One secret per line (any one that matches passes, for rotation).'];
  if (!t.secretsRequired) lines.push('Optional for this type.');
  if (editing && editing.verify.secretCount > 0) {
    lines.push('This source has ' + editing.verify.secretCount + ' secret(s). Secrets are write-only: the API never returns them, and saving replaces them all, so enter every secret to keep.');
  }
  $('#sf-secrets-note').textContent = lines.join(' ');
  $('#sf-secrets').required = t.secretsRequired;
}

async function openSourceForm(src) {
  const err = $('#sf-error');
  err.textContent = '';
  let queues;
  try {
    await loadVerifyTypes();
    queues = (await api('GET', '/v1/queues')).queues.map((x) => x.name);
  } catch (e) { status('cannot open the source form: ' + e.code + ': ' + e.message, true); return; }
  editing = src || null;
  const v = src ? src.verify : {};
  const chosen = new Set(src ? src.queues : []);
  for (const n of chosen) if (!queues.includes(n)) queues.push(n);
  $('#sf-queues').replaceChildren(...queues.map((n) => el('label', {},
    el('input', { type: 'checkbox', value: n, 'data-queue': n, checked: chosen.has(n) }), n)));
  if (!queues.length) $('#sf-queues').append(el('span', { class: 'hint' }, 'No queues yet: create one with PUT /v1/queues/{q} first.'));
  $('#sf-title').textContent = src ? 'Edit source ' + src.name : 'New source';
  $('#sf-name').value = src ? src.name : '';
  $('#sf-name').readOnly = !!src;
  $('#sf-type').value = src ? v.type : $('#sf-type').options[0].value;
  $('#sf-secrets').value = '';
  $('#sf-header').value = v.header || '';
  $('#sf-algorithm').value = v.algorithm || 'sha256';
  $('#sf-encoding').value = v.encoding || 'hex';
  $('#sf-prefix').value = v.prefix || '';
  $('#sf-tolerance').value = src && verifyTypes.get(v.type).fields.includes('tolerance') ? v.tolerance : '';
  $('#sf-dedup-key').value = src ? src.dedup.key : '';
  $('#sf-dedup-window').value = src ? src.dedup.window : '';
  $('#sf-max-body').value = src ? src.maxBodyBytes : '';
  showTypeFields();
  $('#source-form').hidden = false;
  (src ? $('#sf-type') : $('#sf-name')).focus();
}

function closeSourceForm() {
  $('#source-form').hidden = true;
  $('#sf-secrets').value = '';
  editing = null;
}

// sourceBody is the PUT body (SourceInput): only the fields the type
// reads, and only those the user filled (the API applies its defaults).
function sourceBody() {
  const type = $('#sf-type').value;
  const fields = verifyTypes.get(type).fields;
  const verify = { type };
  if (fields.includes('secrets')) {
    verify.secrets = $('#sf-secrets').value.split('\n').map((x) => x.trim()).filter(Boolean);
  }
  for (const f of ['header', 'algorithm', 'encoding', 'prefix', 'tolerance']) {
    const val = $('#sf-' + f).value.trim();
    if (fields.includes(f) && val) verify[f] = val;
  }
  const body = {
    queues: [...document.querySelectorAll('#sf-queues input:checked')].map((x) => x.value),
    verify,
  };
  const dedup = {};
  if ($('#sf-dedup-key').value.trim()) dedup.key = $('#sf-dedup-key').value.trim();
  if ($('#sf-dedup-window').value.trim()) dedup.window = $('#sf-dedup-window').value.trim();
  if (Object.keys(dedup).length) body.dedup = dedup;
  if ($('#sf-max-body').value) body.maxBodyBytes = Number($('#sf-max-body').value);
  return body;
}

async function saveSource(ev) {
  ev.preventDefault();
  const err = $('#sf-error');
  err.textContent = '';
  const name = $('#sf-name').value.trim();
  if (!name) { err.textContent = 'name: required'; return; }
  const body = sourceBody();
  if (!editing) {
    let exists = false;
    try { await api('GET', '/v1/sources/' + q(name)); exists = true; } catch (e) {
      if (e.status !== 404) { err.textContent = e.code + ': ' + e.message; return; }
    }
    if (exists && !await confirmAction('A source named ' + name + ' exists. Replace it, secrets included?')) return;
  }
  try {
    await api('PUT', '/v1/sources/' + q(name), body);
  } catch (e) {
    err.textContent = e.code + ': ' + e.message;
    return;
  }
  closeSourceForm();
  status('source ' + name + ' saved (' + body.verify.type + ')');
  refreshSources();
}

async function deleteSource(name) {
  if (!await confirmAction('Delete source ' + name + '? Webhooks sent to /hooks/' + name + ' will be refused (404); its queues and messages stay.')) return;
  try {
    await api('DELETE', '/v1/sources/' + q(name));
    status('source ' + name + ' deleted');
    if (editing && editing.name === name) closeSourceForm();
  } catch (e) { status('delete ' + name + ': ' + e.code + ': ' + e.message, true); }
  refreshSources();
}

// ---- cluster ----

async function refreshCluster() {
  let c;
  try { c = await api('GET', '/v1/cluster'); } catch (e) { status(e.message, true); return; }
  $('#cluster-leader').textContent = c.leader || 'none';
  $('#cluster-term').textContent = c.term;
  const tbody = $('#cluster-table tbody');
  tbody.replaceChildren();
  for (const n of c.nodes) {
    tbody.append(el('tr', { 'data-node': n.id },
      el('td', {}, n.id, n.id === c.leader ? el('span', { class: 'pill' }, 'leader') : null),
      el('td', {}, n.role), el('td', {}, n.suffrage),
      el('td', {}, el('span', { class: n.healthy ? 'pill' : 'pill bad' }, n.healthy ? 'healthy' : 'unreachable')),
      el('td', { class: 'num' }, n.appliedIndex),
      el('td', { class: 'mono' }, n.raftAddr), el('td', { class: 'mono' }, n.httpAddr), el('td', { class: 'mono' }, n.grpcAddr)));
  }
}

// ---- routing ----

function every(fn, ms) { fn(); timer = setInterval(fn, ms); }

async function route() {
  stop();
  if (!token()) { show('login'); return; }
  const h = location.hash.replace(/^#/, '') || '/queues';
  const parts = h.split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(h.split('?')[1] || '');
  if (parts[0] !== section) status('');
  section = parts[0] || 'queues';
  if (parts[0] === 'queues' && parts[2] === 'messages' && parts[3]) { await showMessage(parts[1], parts[3]); return; }
  if (parts[0] === 'queues' && parts[2] === 'messages') { await showMessages(parts[1], params.get('state') || ''); return; }
  if (parts[0] === 'sources') { show('view-sources'); every(refreshSources, 5000); return; }
  if (parts[0] === 'cluster') { show('view-cluster'); every(refreshCluster, 2000); return; }
  show('view-queues');
  every(refreshQueues, 2000);
}

document.addEventListener('DOMContentLoaded', () => {
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', () => logout(''));
  $('#messages-state').addEventListener('change', () => {
    const s = $('#messages-state').value;
    location.hash = '#/queues/' + q(current.queue) + '/messages' + (s ? '?state=' + q(s) : '');
  });
  $('#messages-refresh').addEventListener('click', () => loadMessages());
  $('#messages-first').addEventListener('click', () => { pages = ['']; loadMessages(); });
  $('#messages-next').addEventListener('click', () => { if (current.next) { pages.push(current.next); loadMessages(); } });
  $('#messages-purge').addEventListener('click', purge);
  $('#messages-redrive-all').addEventListener('click', () => redrive(null));
  $('#message-back').addEventListener('click', () => { location.hash = '#/queues/' + q(current.queue) + '/messages'; });
  $('#message-replay').addEventListener('click', replayMessage);
  $('#message-redrive').addEventListener('click', () => redrive([current.id]));
  $('#source-new').addEventListener('click', () => openSourceForm(null));
  $('#source-form').addEventListener('submit', saveSource);
  $('#sf-cancel').addEventListener('click', closeSourceForm);
  $('#sf-type').addEventListener('change', showTypeFields);
  $('#sf-name').addEventListener('input', () => { if (verifyTypes) showTypeFields(); });
  window.addEventListener('hashchange', route);
  route();
});
