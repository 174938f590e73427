// Warren's management UI: plain JavaScript, no build step, no dependency.
// It talks only to the public management API (/api/...), with the user's
// basic credentials kept in sessionStorage until logout. Routes are
// RabbitMQ's (#/queues/%2F/name), so bookmarks carry over.
'use strict';

const KEY = 'warren.credentials';
const main = document.getElementById('main');
let refreshTimer = null;
let me = null; // /api/whoami

// --- DOM helpers: every broker-provided string goes in as text, never HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

const fmt = {
  int: (n) => (n === undefined || n === null ? '' : Number(n).toLocaleString('en-US')),
  rate: (n) => (n === undefined || n === null ? '' : `${Number(n).toFixed(Number(n) < 10 ? 1 : 0)}/s`),
  bytes: (n) => {
    if (n === undefined || n === null) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = Number(n);
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
  },
  uptime: (ms) => {
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    const hh = Math.floor((s % 86400) / 3600);
    const mm = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${hh}h` : hh ? `${hh}h ${mm}m` : `${mm}m ${s % 60}s`;
  },
};

// --- The API.
class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.reason || body.error)) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(method, path, body) {
  // X-Requested-With: the API then answers a refused login without a
  // WWW-Authenticate challenge, so the browser shows no password dialog
  // and the login form says what went wrong.
  const headers = { Authorization: `Basic ${sessionStorage.getItem(KEY) || ''}`, 'X-Requested-With': 'XMLHttpRequest' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = { reason: text }; }
  if (r.status === 401 && method === 'GET' && path !== '/api/whoami') {
    logout();
    throw new ApiError(401, json);
  }
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

const enc = encodeURIComponent;
const tags = () => (me ? me.tags : []);
const isAdmin = () => tags().includes('administrator');
const mayPolicy = () => isAdmin() || tags().includes('policymaker');

// --- Login.
function loginPage(message) {
  stopRefresh();
  document.getElementById('tabs').hidden = true;
  document.getElementById('who').hidden = true;
  const err = h('div', { class: 'error', role: 'alert' }, message || '');
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'grid', onsubmit: async (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, btoa(unescape(encodeURIComponent(`${user.value}:${pass.value}`))));
    try {
      me = await api('GET', '/api/whoami');
      route();
    } catch (x) {
      sessionStorage.removeItem(KEY);
      err.textContent = x.status === 401 ? 'Login failed' : x.message;
    }
  } },
  h('label', { for: 'username' }, 'Username'), user,
  h('label', { for: 'password' }, 'Password'), pass,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Login')), err);
  show(h('section', { class: 'card login' }, h('h1', {}, 'Warren management'), form));
  user.focus();
}

function logout() {
  sessionStorage.removeItem(KEY);
  me = null;
  location.hash = '#/';
  loginPage();
}
document.getElementById('logout').addEventListener('click', logout);

// --- Router.
const routes = [
  [/^#?\/?$/, overviewPage],
  [/^#\/queues\/([^/]+)\/(.+)$/, (m) => queuePage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/queues$/, () => listPage(lists.queues)],
  [/^#\/connections$/, () => listPage(lists.connections)],
  [/^#\/channels$/, () => listPage(lists.channels)],
  [/^#\/exchanges\/([^/]+)\/(.*)$/, (m) => exchangePage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/exchanges$/, () => listPage(lists.exchanges)],
  [/^#\/users$/, () => listPage(lists.users)],
  [/^#\/vhosts$/, () => listPage(lists.vhosts)],
  [/^#\/policies$/, () => listPage(lists.policies)],
];

async function route() {
  stopRefresh();
  if (!sessionStorage.getItem(KEY)) return loginPage();
  if (!me) {
    try { me = await api('GET', '/api/whoami'); } catch (_) { return loginPage(); }
  }
  document.getElementById('tabs').hidden = false;
  document.getElementById('who').hidden = false;
  document.getElementById('who-name').textContent = `${me.name} (${me.tags.join(', ') || 'no tags'})`;
  for (const a of document.querySelectorAll('nav a')) {
    a.hidden = (a.hasAttribute('data-admin') && !isAdmin()) || (a.hasAttribute('data-policy') && !mayPolicy());
    const base = a.getAttribute('href');
    a.classList.toggle('active', base === '#/' ? location.hash === '' || location.hash === '#/' : location.hash.startsWith(base));
  }
  const hash = location.hash || '#/';
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      try { await page(m); } catch (x) { show(h('p', { class: 'error' }, x.message)); }
      return;
    }
  }
  show(h('p', {}, 'Not found. ', h('a', { href: '#/' }, 'Overview')));
}

window.addEventListener('hashchange', route);

function every(ms, fn) {
  stopRefresh();
  refreshTimer = setInterval(() => fn().catch(() => {}), ms);
}

function stopRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
}

// --- A small SVG line chart: one line per series, the last N samples.
function chart(series, samples) {
  const w = 600;
  const hgt = 150;
  const max = Math.max(1, ...series.flatMap((s) => samples.map((p) => p[s.key] || 0)));
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  for (const s of series) {
    const pts = samples.map((p, i) => {
      const x = samples.length > 1 ? (i / (samples.length - 1)) * w : 0;
      const y = hgt - ((p[s.key] || 0) / max) * (hgt - 10) - 5;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', s.color);
    line.setAttribute('stroke-width', '2');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(line);
  }
  const legend = h('div', { class: 'legend' }, series.map((s) => {
    const last = samples.length ? samples[samples.length - 1][s.key] : 0;
    return h('span', {}, h('i', { style: `background:${s.color}` }), `${s.label}: ${s.format(last)}`);
  }), h('span', { class: 'muted' }, `max ${series[0].format(max)}`));
  return h('div', {}, svg, legend);
}

// --- Overview.
const history = [];

async function overviewPage() {
  const box = h('div', {});
  show(h('h1', {}, 'Overview'), box);
  const draw = async () => {
    const [o, nodes] = await Promise.all([api('GET', '/api/overview'), api('GET', '/api/nodes')]);
    const t = o.object_totals || {};
    const q = o.queue_totals || {};
    const ms = o.message_stats || {};
    const rate = (k) => (ms[`${k}_details`] ? ms[`${k}_details`].rate : 0);
    history.push({
      ready: q.messages_ready || 0,
      unacked: q.messages_unacknowledged || 0,
      publish: rate('publish'),
      deliver: rate('deliver_get'),
      ack: rate('ack'),
    });
    if (history.length > 120) history.shift();
    const n = nodes[0] || {};
    const alarms = [n.mem_alarm && 'memory', n.disk_free_alarm && 'disk'].filter(Boolean);
    box.replaceChildren(
      h('div', { class: 'totals', id: 'totals' },
        [['Connections', t.connections], ['Channels', t.channels], ['Exchanges', t.exchanges],
          ['Queues', t.queues], ['Consumers', t.consumers], ['Ready', q.messages_ready],
          ['Unacked', q.messages_unacknowledged]].map(([label, v]) => h('div', { class: 'total' }, h('b', {}, fmt.int(v || 0)), h('span', {}, label)))),
      h('h2', {}, 'Queued messages'),
      h('section', { class: 'card' }, chart([
        { key: 'ready', label: 'Ready', color: '#2f6fde', format: fmt.int },
        { key: 'unacked', label: 'Unacked', color: '#e08a00', format: fmt.int },
      ], history)),
      h('h2', {}, 'Message rates'),
      h('section', { class: 'card' }, chart([
        { key: 'publish', label: 'Publish', color: '#2f6fde', format: fmt.rate },
        { key: 'deliver', label: 'Deliver / get', color: '#2e7d32', format: fmt.rate },
        { key: 'ack', label: 'Ack', color: '#8e24aa', format: fmt.rate },
      ], history)),
      h('h2', {}, 'Node'),
      h('section', { class: 'card' }, h('dl', { class: 'facts' },
        h('dt', {}, 'Name'), h('dd', {}, n.name || o.node),
        h('dt', {}, 'Version'), h('dd', {}, `${o.product_name || 'Warren'} ${o.product_version || ''}`),
        h('dt', {}, 'Alarms'), h('dd', {}, alarms.length ? alarms.map((a) => h('span', { class: 'alarm' }, a)) : 'none'),
        h('dt', {}, 'Memory'), h('dd', { class: n.mem_alarm ? 'alarm' : '' }, `${fmt.bytes(n.mem_used)} of ${fmt.bytes(n.mem_limit)} high watermark`),
        h('dt', {}, 'Disk free'), h('dd', { class: n.disk_free_alarm ? 'alarm' : '' }, `${fmt.bytes(n.disk_free)} (limit ${fmt.bytes(n.disk_free_limit)})`),
        h('dt', {}, 'File descriptors'), h('dd', {}, `${fmt.int(n.fd_used)} of ${fmt.int(n.fd_total)}`),
        h('dt', {}, 'Uptime'), h('dd', {}, n.uptime ? fmt.uptime(n.uptime) : ''),
        h('dt', {}, 'Listeners'), h('dd', {}, (o.listeners || []).map((l) => `${l.protocol} ${l.port}`).join(', ')))),
      definitionsCard(),
    );
  };
  await draw();
  every(5000, draw);
}

function definitionsCard() {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status' });
  const file = h('input', { type: 'file', id: 'definitions-file', accept: '.json,application/json' });
  const exportButton = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const defs = await api('GET', '/api/definitions');
      const a = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' })), download: 'warren-definitions.json' });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (x) { err.textContent = x.message; }
  } }, 'Download broker definitions');
  const importForm = h('form', { class: 'toolbar', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    note.textContent = '';
    try {
      if (!file.files.length) throw new Error('Choose a definitions file first');
      const defs = JSON.parse(await file.files[0].text());
      await api('POST', '/api/definitions', defs);
      note.textContent = 'Definitions imported';
    } catch (x) { err.textContent = x.message; }
  } }, h('label', { for: 'definitions-file' }, 'Import definitions'), file, h('button', { type: 'submit' }, 'Upload'), note);
  return h('div', {}, h('h2', {}, 'Definitions'),
    h('section', { class: 'card' }, isAdmin() ? [exportButton, importForm, err] : h('p', { class: 'muted' }, 'Export and import need the administrator tag.')));
}

// --- Lists: sortable, filterable (regex), paginated, all by the API.
const vhostLink = (q) => `#/queues/${enc(q.vhost)}/${enc(q.name)}`;
const lists = {
  queues: {
    title: 'Queues', path: '/api/queues', sort: 'name',
    columns: [
      ['Virtual host', 'vhost'],
      ['Name', 'name', (q) => h('a', { href: vhostLink(q) }, q.name)],
      ['Type', 'type'],
      ['State', 'state'],
      ['Ready', 'messages_ready', (q) => fmt.int(q.messages_ready), 'num'],
      ['Unacked', 'messages_unacknowledged', (q) => fmt.int(q.messages_unacknowledged), 'num'],
      ['Total', 'messages', (q) => fmt.int(q.messages), 'num'],
      ['Consumers', 'consumers', (q) => fmt.int(q.consumers), 'num'],
    ],
    extra: addQueueForm,
  },
  connections: {
    title: 'Connections', path: '/api/connections', sort: 'name',
    columns: [
      ['Name', 'name'], ['User', 'user'], ['Virtual host', 'vhost'],
      ['TLS', 'ssl', (c) => (c.ssl ? c.ssl_protocol : 'no')],
      ['Channels', 'channels', (c) => fmt.int(c.channels), 'num'],
      ['Client', 'client_properties.product', (c) => (c.client_properties || {}).product || ''],
      ['', null, (c) => h('button', { type: 'button', class: 'danger', onclick: () => closeConnection(c.name) }, 'Close')],
    ],
  },
  channels: {
    title: 'Channels', path: '/api/channels', sort: 'name',
    columns: [['Name', 'name'], ['User', 'user'], ['Virtual host', 'vhost'],
      ['Prefetch', 'prefetch_count', (c) => fmt.int(c.prefetch_count), 'num'],
      ['Unacked', 'messages_unacknowledged', (c) => fmt.int(c.messages_unacknowledged), 'num'],
      ['Consumers', 'consumer_count', (c) => fmt.int(c.consumer_count), 'num']],
  },
  exchanges: {
    title: 'Exchanges', path: '/api/exchanges', sort: 'name',
    columns: [['Virtual host', 'vhost'],
      ['Name', 'name', (x) => h('a', { href: `#/exchanges/${enc(x.vhost)}/${enc(x.name || 'amq.default')}` }, x.name || '(AMQP default)')],
      ['Type', 'type'],
      ['Durable', 'durable', (x) => (x.durable ? 'yes' : 'no')], ['Internal', 'internal', (x) => (x.internal ? 'yes' : 'no')]],
    extra: addExchangeForm,
  },
  users: {
    title: 'Users', path: '/api/users', sort: 'name',
    columns: [['Name', 'name'], ['Tags', 'tags', (u) => (Array.isArray(u.tags) ? u.tags.join(', ') : u.tags)],
      ['', null, (u) => deleteButton(`/api/users/${enc(u.name)}`, `user ${u.name}`)]],
    extra: addUserForm,
  },
  vhosts: {
    title: 'Virtual hosts', path: '/api/vhosts', sort: 'name',
    columns: [['Name', 'name'], ['Ready', 'messages_ready', (v) => fmt.int(v.messages_ready), 'num'],
      ['Unacked', 'messages_unacknowledged', (v) => fmt.int(v.messages_unacknowledged), 'num'],
      ['', null, (v) => deleteButton(`/api/vhosts/${enc(v.name)}`, `virtual host ${v.name} and everything in it`)]],
    extra: (reload) => simpleForm('Add a virtual host', 'add-vhost', [['vhost-name', 'Name']], async (f) => {
      await api('PUT', `/api/vhosts/${enc(f['vhost-name'])}`, {});
    }, reload),
  },
  policies: {
    title: 'Policies', path: '/api/policies', sort: 'name',
    columns: [['Virtual host', 'vhost'], ['Name', 'name'], ['Pattern', 'pattern'], ['Apply to', 'apply-to'],
      ['Definition', 'definition', (p) => JSON.stringify(p.definition)], ['Priority', 'priority', null, 'num'],
      ['', null, (p) => deleteButton(`/api/policies/${enc(p.vhost)}/${enc(p.name)}`, `policy ${p.name}`)]],
    extra: (reload) => simpleForm('Add or update a policy', 'add-policy', [
      ['policy-vhost', 'Virtual host', '/'], ['policy-name', 'Name'], ['policy-pattern', 'Pattern', '^'],
      ['policy-apply-to', 'Apply to', 'queues', ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues']],
      ['policy-priority', 'Priority', '0'], ['policy-definition', 'Definition', '', 'textarea'],
    ], async (f) => {
      await api('PUT', `/api/policies/${enc(f['policy-vhost'])}/${enc(f['policy-name'])}`, {
        pattern: f['policy-pattern'], 'apply-to': f['policy-apply-to'], priority: Number(f['policy-priority'] || 0),
        definition: parseArguments(f['policy-definition']),
      });
    }, reload),
  },
};

function deleteButton(path, what) {
  return h('button', { type: 'button', class: 'danger', onclick: async (e) => {
    if (!confirm(`Delete ${what}?`)) return;
    try { await api('DELETE', path); route(); } catch (x) { e.target.replaceWith(h('span', { class: 'error', role: 'alert' }, x.message)); }
  } }, 'Delete');
}

// A form of labelled fields: [id, label, default, options or 'textarea'].
// `submit` gets the values by id; the broker's refusal shows in the form.
function simpleForm(title, id, fields, submit, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const inputs = fields.map(([fid, , value, kind]) => (Array.isArray(kind)
    ? h('select', { id: fid }, kind.map((o) => h('option', { value: o, selected: o === value }, o)))
    : kind === 'textarea' ? h('textarea', { id: fid, placeholder: 'key = value' }) : h('input', { id: fid, value: value || '' })));
  const form = h('form', { class: 'grid', id, onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await submit(Object.fromEntries(inputs.map((i) => [i.id, i.value])));
      if (after) after();
    } catch (x) { err.textContent = x.message; }
  } }, fields.map(([fid, label], i) => [h('label', { for: fid }, label), inputs[i]]),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, title.replace(/^Add( or update)? an? /, 'Add '))), err);
  return h('div', {}, h('h2', {}, title), h('section', { class: 'card' }, form));
}

async function listPage(spec) {
  const state = { page: 1, size: 100, filter: '', sort: spec.sort, reverse: false };
  const body = h('div', {});
  const err = h('div', { class: 'error', role: 'alert' });
  const filter = h('input', { type: 'search', id: 'filter', placeholder: 'Filter (regex)', 'aria-label': 'Filter by name (regular expression)' });
  let debounce = null;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { state.filter = filter.value; state.page = 1; load(); }, 250);
  });
  const count = h('span', { class: 'muted grow' });
  async function load() {
    const qs = new URLSearchParams({ page: state.page, page_size: state.size, name: state.filter, use_regex: 'true', sort: state.sort, sort_reverse: state.reverse, pagination: 'true' });
    let res;
    try {
      res = await api('GET', `${spec.path}?${qs}`);
      err.textContent = '';
    } catch (x) {
      err.textContent = x.message;
      return;
    }
    count.textContent = `${fmt.int(res.filtered_count)} of ${fmt.int(res.total_count)} match`;
    const head = h('tr', {}, spec.columns.map(([label, key, , cls]) => h('th', {
      class: [cls, key && key === state.sort ? 'sorted' : '', key === state.sort && state.reverse ? 'rev' : ''].filter(Boolean).join(' ') || undefined,
      scope: 'col',
      tabindex: key ? '0' : undefined,
      onclick: key ? () => { state.reverse = state.sort === key ? !state.reverse : false; state.sort = key; load(); } : undefined,
      onkeydown: key ? (e) => { if (e.key === 'Enter') e.target.click(); } : undefined,
    }, label)));
    const rows = res.items.map((item) => h('tr', {}, spec.columns.map(([, key, render, cls]) => h('td', { class: cls }, render ? render(item) : String(key.split('.').reduce((v, k) => (v == null ? v : v[k]), item) ?? '')))));
    const pager = h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'secondary', disabled: state.page <= 1, onclick: () => { state.page -= 1; load(); } }, 'Previous'),
      `Page ${res.page} of ${Math.max(1, res.page_count)}`,
      h('button', { type: 'button', class: 'secondary', disabled: state.page >= res.page_count, onclick: () => { state.page += 1; load(); } }, 'Next'));
    body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'list' }, h('thead', {}, head), h('tbody', {}, rows))), pager);
  }
  show(h('h1', {}, spec.title), h('div', { class: 'toolbar' }, filter, count), err, body, spec.extra ? spec.extra(load) : '');
  await load();
  every(5000, load);
}

async function closeConnection(name) {
  const reason = prompt(`Close connection ${name}? Reason:`, 'Closed via management UI');
  if (reason === null) return;
  try {
    await fetch(`/api/connections/${enc(name)}`, { method: 'DELETE', headers: { Authorization: `Basic ${sessionStorage.getItem(KEY)}`, 'X-Requested-With': 'XMLHttpRequest', 'X-Reason': reason } });
  } finally { route(); }
}

// Arguments typed as `key = value` lines: numbers and booleans become JSON
// numbers and booleans, as RabbitMQ's form types them.
function parseArguments(text) {
  const args = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf('=');
    if (i < 0) throw new Error(`"${line.trim()}": write key = value`);
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    args[k] = /^-?\d+$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
  }
  return args;
}

const KNOWN_QUEUE_ARGS = ['x-message-ttl', 'x-expires', 'x-max-length', 'x-max-length-bytes', 'x-overflow',
  'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-priority', 'x-queue-type', 'x-single-active-consumer',
  'x-queue-mode', 'x-consumer-timeout'];

function addQueueForm(reload) {
  const err = h('div', { class: 'error', role: 'alert' });
  const vhost = h('input', { id: 'queue-vhost', value: '/' });
  const name = h('input', { id: 'queue-name', required: true });
  const durable = h('select', { id: 'queue-durable' }, h('option', { value: 'true' }, 'Durable'), h('option', { value: 'false' }, 'Transient'));
  const args = h('textarea', { id: 'queue-arguments', placeholder: 'x-message-ttl = 60000' });
  const known = h('div', { class: 'muted' }, 'Add: ', KNOWN_QUEUE_ARGS.map((a) => [h('a', { href: '#', onclick: (e) => { e.preventDefault(); args.value += `${args.value && !args.value.endsWith('\n') ? '\n' : ''}${a} = `; args.focus(); } }, a), ' ']));
  const form = h('form', { class: 'grid', id: 'add-queue', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('PUT', `/api/queues/${enc(vhost.value)}/${enc(name.value)}`, { durable: durable.value === 'true', auto_delete: false, arguments: parseArguments(args.value) });
      name.value = '';
      args.value = '';
      reload();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'queue-vhost' }, 'Virtual host'), vhost,
  h('label', { for: 'queue-name' }, 'Name'), name,
  h('label', { for: 'queue-durable' }, 'Durability'), durable,
  h('label', { for: 'queue-arguments' }, 'Arguments'), h('div', {}, args, known),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add queue')), err);
  return h('div', {}, h('h2', {}, 'Add a queue'), h('section', { class: 'card' }, form));
}

function addUserForm(reload) {
  const err = h('div', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'user-name', required: true });
  const pass = h('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password' });
  const tagsInput = h('input', { id: 'user-tags', placeholder: 'management, policymaker, monitoring, administrator' });
  const form = h('form', { class: 'grid', id: 'add-user', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('PUT', `/api/users/${enc(name.value)}`, { password: pass.value, tags: tagsInput.value });
      await api('PUT', `/api/permissions/%2F/${enc(name.value)}`, { configure: '.*', write: '.*', read: '.*' });
      name.value = '';
      pass.value = '';
      reload();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'user-name' }, 'Username'), name,
  h('label', { for: 'user-password' }, 'Password'), pass,
  h('label', { for: 'user-tags' }, 'Tags'), tagsInput,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add user')),
  h('p', { class: 'muted', style: 'grid-column: 1 / -1' }, 'The new user gets every permission on the virtual host "/".'), err);
  return h('div', {}, h('h2', {}, 'Add a user'), h('section', { class: 'card' }, form));
}

function addExchangeForm(reload) {
  return simpleForm('Add an exchange', 'add-exchange', [
    ['exchange-vhost', 'Virtual host', '/'], ['exchange-name', 'Name'],
    ['exchange-type', 'Type', 'direct', ['direct', 'fanout', 'topic', 'headers', 'x-delayed-message', 'x-consistent-hash']],
    ['exchange-durable', 'Durability', 'true', ['true', 'false']],
    ['exchange-arguments', 'Arguments', '', 'textarea'],
  ], async (f) => {
    await api('PUT', `/api/exchanges/${enc(f['exchange-vhost'])}/${enc(f['exchange-name'])}`, {
      type: f['exchange-type'], durable: f['exchange-durable'] === 'true', auto_delete: false, internal: false,
      arguments: parseArguments(f['exchange-arguments']),
    });
  }, reload);
}

// The bindings from (`source`) or to (`destination`) an object, with unbind.
function bindingsCard(vhost, listPath, after) {
  const box = h('div', { id: 'bindings' });
  const load = async () => {
    const all = await api('GET', listPath);
    box.replaceChildren(all.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['From', 'To', 'Routing key', 'Arguments', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, all.map((b) => h('tr', {},
        h('td', {}, b.source || '(AMQP default)'), h('td', {}, `${b.destination_type} ${b.destination}`),
        h('td', {}, b.routing_key), h('td', {}, JSON.stringify(b.arguments)),
        h('td', {}, b.source ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
          await api('DELETE', `/api/bindings/${enc(vhost)}/e/${enc(b.source)}/${b.destination_type === 'queue' ? 'q' : 'e'}/${enc(b.destination)}/${enc(b.properties_key)}`);
          load();
          if (after) after();
        } }, 'Unbind') : '')))))) : h('p', { class: 'muted' }, 'No bindings'));
  };
  return { box, load };
}

async function exchangePage(vhost, name) {
  const real = name === 'amq.default' ? '' : name;
  const path = `/api/exchanges/${enc(vhost)}/${enc(name)}`;
  const x = await api('GET', path);
  const bindings = bindingsCard(vhost, `${path}/bindings/source`);
  const parts = [
    h('h1', {}, `Exchange ${real || '(AMQP default)'}`),
    h('section', { class: 'card' }, h('dl', { class: 'facts' },
      h('dt', {}, 'Virtual host'), h('dd', {}, x.vhost), h('dt', {}, 'Type'), h('dd', {}, x.type),
      h('dt', {}, 'Features'), h('dd', {}, [x.durable && 'durable', x.auto_delete && 'auto-delete', x.internal && 'internal'].filter(Boolean).join(', ') || 'transient'),
      h('dt', {}, 'Arguments'), h('dd', {}, JSON.stringify(x.arguments || {})))),
    h('h2', {}, 'Bindings'), h('section', { class: 'card' }, bindings.box),
  ];
  if (real && !real.startsWith('amq.')) {
    parts.push(simpleForm('Add a binding from this exchange', 'add-binding', [
      ['binding-destination-type', 'To', 'queue', ['queue', 'exchange']], ['binding-destination', 'Name'],
      ['binding-routing-key', 'Routing key'], ['binding-arguments', 'Arguments', '', 'textarea'],
    ], async (f) => {
      const kind = f['binding-destination-type'] === 'queue' ? 'q' : 'e';
      await api('POST', `/api/bindings/${enc(vhost)}/e/${enc(real)}/${kind}/${enc(f['binding-destination'])}`, {
        routing_key: f['binding-routing-key'], arguments: parseArguments(f['binding-arguments']),
      });
    }, bindings.load));
    parts.push(h('section', { class: 'card toolbar' }, deleteButton(path, `exchange ${real}`)));
  }
  show(...parts);
  await bindings.load();
}

// --- One queue: details, publish, get, purge, delete.
async function queuePage(vhost, name) {
  const path = `/api/queues/${enc(vhost)}/${enc(name)}`;
  const facts = h('dl', { class: 'facts', id: 'queue-facts' });
  const draw = async () => {
    const q = await api('GET', path);
    facts.replaceChildren(
      h('dt', {}, 'Virtual host'), h('dd', {}, q.vhost),
      h('dt', {}, 'Type'), h('dd', {}, q.type),
      h('dt', {}, 'Features'), h('dd', {}, [q.durable && 'durable', q.auto_delete && 'auto-delete', q.exclusive && 'exclusive'].filter(Boolean).join(', ') || 'transient'),
      h('dt', {}, 'Arguments'), h('dd', {}, JSON.stringify(q.arguments || {})),
      h('dt', {}, 'Policy'), h('dd', {}, q.policy || ''),
      h('dt', {}, 'Ready'), h('dd', { id: 'queue-ready' }, fmt.int(q.messages_ready)),
      h('dt', {}, 'Unacked'), h('dd', {}, fmt.int(q.messages_unacknowledged)),
      h('dt', {}, 'Consumers'), h('dd', {}, fmt.int(q.consumers)),
      h('dt', {}, 'Memory'), h('dd', {}, fmt.bytes(q.memory)));
  };
  await draw();
  const bindings = bindingsCard(vhost, `${path}/bindings`);
  show(h('h1', {}, `Queue ${name}`), h('section', { class: 'card' }, facts),
    h('h2', {}, 'Bindings'), h('section', { class: 'card' }, bindings.box),
    simpleForm('Add a binding to this queue', 'bind-queue', [
      ['bind-exchange', 'From exchange'], ['bind-routing-key', 'Routing key'], ['bind-arguments', 'Arguments', '', 'textarea'],
    ], async (f) => {
      await api('POST', `/api/bindings/${enc(vhost)}/e/${enc(f['bind-exchange'])}/q/${enc(name)}`, {
        routing_key: f['bind-routing-key'], arguments: parseArguments(f['bind-arguments']),
      });
    }, bindings.load),
    publishForm(vhost, name, draw), getForm(path, draw), dangerForm(path, vhost, draw));
  await bindings.load();
  every(5000, draw);
}

function publishForm(vhost, queue, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status' });
  const payload = h('textarea', { id: 'publish-payload' });
  const headers = h('textarea', { id: 'publish-headers', placeholder: 'key = value' });
  const mode = h('select', { id: 'publish-delivery-mode' }, h('option', { value: '1' }, '1 - Non-persistent'), h('option', { value: '2' }, '2 - Persistent'));
  const form = h('form', { class: 'grid', id: 'publish', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    note.textContent = '';
    try {
      const r = await api('POST', `/api/exchanges/${enc(vhost)}/amq.default/publish`, {
        routing_key: queue, payload: payload.value, payload_encoding: 'string',
        properties: { delivery_mode: Number(mode.value), headers: parseArguments(headers.value) },
      });
      note.textContent = r.routed ? 'Message published.' : 'Message published, but not routed.';
      after();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'publish-delivery-mode' }, 'Delivery mode'), mode,
  h('label', { for: 'publish-headers' }, 'Headers'), headers,
  h('label', { for: 'publish-payload' }, 'Payload'), payload,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Publish message'), note), err);
  return h('div', {}, h('h2', {}, 'Publish message'), h('section', { class: 'card' }, form));
}

function getForm(path, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const out = h('div', { id: 'messages' });
  const ackmode = h('select', { id: 'get-ackmode' },
    h('option', { value: 'ack_requeue_true' }, 'Nack message requeue true'),
    h('option', { value: 'ack_requeue_false' }, 'Automatic ack'),
    h('option', { value: 'reject_requeue_true' }, 'Reject requeue true'),
    h('option', { value: 'reject_requeue_false' }, 'Reject requeue false'));
  const encoding = h('select', { id: 'get-encoding' }, h('option', { value: 'auto' }, 'Auto string / base64'), h('option', { value: 'base64' }, 'base64'));
  const count = h('input', { id: 'get-count', type: 'number', min: '1', value: '1' });
  const form = h('form', { class: 'grid', id: 'get', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      const msgs = await api('POST', `${path}/get`, { count: Number(count.value), ackmode: ackmode.value, encoding: encoding.value, truncate: 50000 });
      out.replaceChildren(msgs.length ? '' : h('p', { class: 'muted' }, 'Queue is empty'),
        ...msgs.map((m, i) => h('section', { class: 'card message' },
          h('b', {}, `Message ${i + 1}`), h('span', { class: 'muted' }, ` routing key ${m.routing_key}, ${m.redelivered ? 'redelivered' : 'first delivery'}, ${m.message_count} left`),
          h('pre', { class: 'payload' }, m.payload),
          h('div', { class: 'muted' }, `properties: ${JSON.stringify(m.properties)}`))));
      after();
    } catch (x) { err.textContent = x.message; }
  } },
  h('label', { for: 'get-ackmode' }, 'Ack mode'), ackmode,
  h('label', { for: 'get-encoding' }, 'Encoding'), encoding,
  h('label', { for: 'get-count' }, 'Messages'), count,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Get messages')), err);
  return h('div', {}, h('h2', {}, 'Get messages'), h('section', { class: 'card' }, form, out));
}

function dangerForm(path, vhost, after) {
  const err = h('div', { class: 'error', role: 'alert' });
  const note = h('span', { class: 'notice', role: 'status' });
  return h('div', {}, h('h2', {}, 'Purge or delete'), h('section', { class: 'card toolbar' },
    h('button', { type: 'button', id: 'purge', class: 'danger', onclick: async () => {
      err.textContent = '';
      try { await api('DELETE', `${path}/contents`); note.textContent = 'Queue purged.'; after(); } catch (x) { err.textContent = x.message; }
    } }, 'Purge messages'),
    h('button', { type: 'button', id: 'delete-queue', class: 'danger', onclick: async () => {
      if (!confirm('Delete this queue and its messages?')) return;
      try { await api('DELETE', path); location.hash = '#/queues'; } catch (x) { err.textContent = x.message; }
    } }, 'Delete queue'), note, err));
}

route();
