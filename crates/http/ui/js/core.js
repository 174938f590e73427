// Warren's management UI, shared parts: the DOM helper, the API client,
// login and logout, periodic refresh and the chart. Plain JavaScript, no
// build step, no dependency; the files are classic scripts loaded in order
// by index.html and share their top-level names. The UI talks only to the
// public management API (/api/...), with the user's basic credentials kept
// in sessionStorage until logout.
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

